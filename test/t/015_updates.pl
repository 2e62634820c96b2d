# Workflow updates between two sessions (issue 11): a client waits in
# durable.update_workflow() while a worker polls, validates and runs the
# handler; the client returns at the stage it asked for, as soon as the
# worker's completion commits.  Also: a rejected update leaves no event; two
# clients sending one update id get one handler run and the same outcome;
# an update whose workflow closes while it waits fails with DU003; with no
# worker, the wait ends at "admitted".
#
# The bounds here are functional (a wake-up long before the wait ends), not
# benchmarks: bench/ measures the round trip.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::RealBin;
use DurableTest;

my $node = durable_node('updates');

sub sql { return $node->safe_psql('postgres', shift); }

# One query in a background psql named "client"; its handle and outputs.
sub start_client
{
	my $query = shift;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres') . ' application_name=client',
		  '-c', $query ],
		'>', \$out, '2>', \$err,
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	return ($h, \$out, \$err);
}

# Poll the queue's next workflow task (waiting up to 10 s): its token and messages.
sub poll
{
	my $q = shift;
	my $r = sql("SELECT task_token || '|' || coalesce(messages::text, '') FROM durable.poll_task('$q', 'w1', '{workflow}', wait => '10 seconds')");
	return split /\|/, $r, 2;
}

sub complete
{
	my ($tok, $cmds) = @_;
	return sql("SELECT durable.complete_workflow_task('$tok', '$cmds')->>'outcome'");
}

sql('CREATE EXTENSION durable');
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM durable.engine_workers WHERE datname = 'postgres' AND state = 'active'"),
	'engine worker active');

# a workflow with no task pending
sql("SELECT durable.start_workflow('U', NULL, 'u', 'uq')");
my ($tok) = poll('uq');
is(complete($tok, '[]'), 'completed', 'first task done');

# --- accepted and completed: the client wakes with the result ---------------

my ($h, $out, $err) = start_client(
	"SELECT stage || ' ' || result FROM durable.update_workflow('u', 'add', '[2, 3]', 'u-1', wait => '20 seconds')");
my $msgs;
($tok, $msgs) = poll('uq');
like($msgs, qr/"update_id": "u-1"/, 'the workflow task carries the update');
my $t0 = time;
is(complete($tok, '[{"type": "accept_update", "update_id": "u-1", "name": "add", "args": [2, 3]}, {"type": "complete_update", "update_id": "u-1", "result": 5}]'),
	'completed', 'the worker accepts and completes');
$h->finish;
is($$out, "completed 5\n", 'the client gets the result') or diag($$err);
cmp_ok(time - $t0, '<', 10, 'at the completion, not at the end of its wait');

# --- wait for accepted only ------------------------------------------------

($h, $out, $err) = start_client(
	"SELECT stage FROM durable.update_workflow('u', 'slow', NULL, 'u-2', wait_for_stage => 'accepted', wait => '20 seconds')");
($tok) = poll('uq');
complete($tok, '[{"type": "accept_update", "update_id": "u-2", "name": "slow"}, {"type": "start_timer", "timer_id": "t", "duration": "1 hour"}]');
$h->finish;
is($$out, "accepted\n", 'a client waiting for "accepted" returns at acceptance') or diag($$err);
# a second call with the same id waits for the completion
($h, $out, $err) = start_client(
	"SELECT stage || ' ' || result FROM durable.update_workflow('u', 'slow', NULL, 'u-2', wait => '20 seconds')");
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'client' AND wait_event = 'Extension'");
sql("SELECT durable.signal_workflow('u', 'go')");
($tok) = poll('uq');
complete($tok, '[{"type": "complete_update", "update_id": "u-2", "result": "done"}]');
$h->finish;
is($$out, "completed \"done\"\n", 'a later call waits for the completion of an accepted update') or diag($$err);

# --- rejected: the client gets the failure, the history nothing ----------------

my $len = sql("SELECT history_length FROM durable.describe_workflow('u')");
($h, $out, $err) = start_client(
	"SELECT stage || ' ' || (failure->>'message') FROM durable.update_workflow('u', 'bad', NULL, 'u-3', wait => '20 seconds')");
($tok) = poll('uq');
complete($tok, '[{"type": "reject_update", "update_id": "u-3", "failure": {"message": "not valid"}}]');
$h->finish;
is($$out, "rejected not valid\n", 'a rejected update returns the validator\'s failure') or diag($$err);
is(sql("SELECT history_length FROM durable.describe_workflow('u')"), $len, 'and writes no event');

# --- two clients, one update id: one handler run, one outcome ----------------

my ($h1, $o1, $e1) = start_client(
	"SELECT stage || ' ' || result FROM durable.update_workflow('u', 'inc', NULL, 'u-4', wait => '20 seconds')");
my ($h2, $o2, $e2) = start_client(
	"SELECT stage || ' ' || result FROM durable.update_workflow('u', 'inc', NULL, 'u-4', wait => '20 seconds')");
$node->poll_query_until('postgres',
	"SELECT count(*) = 2 FROM pg_stat_activity WHERE application_name = 'client' AND wait_event = 'Extension'");
($tok, $msgs) = poll('uq');
is(scalar(() = $msgs =~ /u-4/g), 1, 'the task carries the update once');
complete($tok, '[{"type": "accept_update", "update_id": "u-4", "name": "inc"}, {"type": "complete_update", "update_id": "u-4", "result": 1}]');
$h1->finish;
$h2->finish;
is($$o1 . $$o2, "completed 1\ncompleted 1\n", 'both clients get the outcome') or diag($$e1 . $$e2);
is(sql("SELECT count(*) FROM durable.get_history('u') WHERE event_type = 'WorkflowExecutionUpdateAccepted' AND attributes->>'protocol_instance_id' = 'u-4'"),
	'1', 'accepted once');

# --- no worker: the wait ends at "admitted" ------------------------------------

is(sql("SELECT stage FROM durable.update_workflow('u', 'x', NULL, 'u-5', wait => '200 milliseconds')"),
	'admitted', 'with no worker the wait ends at admitted');

# --- the workflow closes while the client waits ----------------------------------

($h, $out, $err) = start_client(
	"SELECT stage FROM durable.update_workflow('u', 'late', NULL, 'u-6', wait => '20 seconds')");
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'client' AND wait_event = 'Extension'");
sql("SELECT durable.terminate_workflow('u')");
$h->finish;
like($$err, qr/closed before update "u-6" completed/, 'an update whose workflow closes fails') or diag($$out);

done_testing();
