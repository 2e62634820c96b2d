# Long polling: a poller waiting in durable.poll_task(wait => ...) is woken
# as soon as a task it can take commits (a new workflow, or a signaller that
# held the task row and re-announces the queue at commit), not when its wait
# runs out; while it sleeps it holds no snapshot (backend_xmin is NULL) and
# so does not hold back vacuum.  durable.workflow_result(wait => ...)
# returns as soon as the workflow completes in another session.
#
# The bounds (< 2 s against a 10 or 20 s wait) are functional, not benchmarks.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::RealBin;
use DurableTest;

my $node = durable_node('longpoll');

sub sql { return $node->safe_psql('postgres', shift); }

# Run one query in a background psql whose application_name is "sleeper";
# returns the IPC::Run handle and references to its stdout and stderr.
sub start_background
{
	my $query = shift;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres') . ' application_name=sleeper',
		  '-c', $query ],
		'>', \$out, '2>', \$err,
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	return ($h, \$out, \$err);
}

# Wait until the background session sleeps on its latch (durable's wait
# reports wait event Extension/Extension).
sub wait_for_sleeper
{
	return $node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'sleeper' AND state = 'active' AND wait_event_type = 'Extension' AND wait_event = 'Extension'");
}

sub now_epoch { return sql('SELECT extract(epoch FROM clock_timestamp())'); }

sql('CREATE EXTENSION durable');
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM durable.engine_workers WHERE datname = 'postgres' AND state = 'active'"),
	'engine worker active');

# --- a poller is woken by a new workflow ------------------------------------

my ($h, $out, $err) = start_background(
	"SELECT workflow_id, extract(epoch FROM clock_timestamp()), extract(epoch FROM clock_timestamp() - statement_timestamp())
	 FROM durable.poll_task('lp', 'w1', wait => '10 seconds')");
ok(wait_for_sleeper(), 'the poller is waiting');
is(sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'sleeper' AND backend_xmin IS NULL AND backend_xid IS NULL"),
	'1', 'the waiting poller holds no xmin (does not hold back vacuum)');

sql("SELECT durable.start_workflow('LongPoll', workflow_id => 'lp1', task_queue => 'lp')");
my $committed = now_epoch();
$h->finish;
is($$err, '', 'poll without error');
my ($wid, $returned, $waited) = split /\|/, $$out;
chomp $waited;
is($wid, 'lp1', 'the poller got the new workflow\'s task');
my $latency = $returned - $committed;
cmp_ok($latency, '<', 2, "woken ${latency}s after the commit");
cmp_ok($waited, '<', 9, "long before its 10 s wait ran out (waited ${waited}s)");

# --- a poller that skipped a locked task is woken by the locker's commit ---

sql("SELECT durable.start_workflow('LongPoll', workflow_id => 'lp2', task_queue => 'lp_sig')");
my $signaller = $node->background_psql('postgres');
$signaller->query_safe('BEGIN');
$signaller->query_safe("SELECT durable.signal_workflow('lp2', 'go')");    # locks the ready task row

($h, $out, $err) = start_background(
	"SELECT jsonb_path_query_array(history, '\$[*].event_type'), extract(epoch FROM clock_timestamp())
	 FROM durable.poll_task('lp_sig', 'w1', wait => '10 seconds')");
ok(wait_for_sleeper(), 'the poller skipped the locked task and waits');
$signaller->query_safe('COMMIT');
$committed = now_epoch();
$h->finish;
is($$err, '', 'poll without error');
my ($events, $returned2) = split /\|/, $$out;
is($events, '["WorkflowExecutionStarted", "WorkflowTaskScheduled", "WorkflowExecutionSignaled", "WorkflowTaskStarted"]',
	'the poller got the task with the signal');
$latency = $returned2 - $committed;
cmp_ok($latency, '<', 2, "woken ${latency}s after the signaller's commit");
$signaller->quit;

# --- workflow_result waits for the close ------------------------------------

sql("SELECT durable.start_workflow('LongPoll', workflow_id => 'lp3', task_queue => 'lp_res')");
($h, $out, $err) = start_background(
	"SELECT r, extract(epoch FROM clock_timestamp())
	 FROM (SELECT durable.workflow_result('lp3', wait => '20 seconds') AS r OFFSET 0) AS s");
ok(wait_for_sleeper(), 'workflow_result is waiting');
is(sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'sleeper' AND backend_xmin IS NULL"),
	'1', 'the waiting client holds no xmin');
my $tok = sql("SELECT task_token FROM durable.poll_task('lp_res', 'w1')");
sql(qq{SELECT durable.complete_workflow_task('$tok', '[{"type": "complete_workflow", "result": {"answer": 42}}]')});
$committed = now_epoch();
$h->finish;
is($$err, '', 'workflow_result without error');
my ($result, $returned3) = split /\|/, $$out;
is($result, '{"answer": 42}', 'workflow_result returns the result');
$latency = $returned3 - $committed;
cmp_ok($latency, '<', 2, "returned ${latency}s after the completion committed");

$node->stop;
done_testing();
