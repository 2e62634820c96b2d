# kill -9 of the postmaster mid-workflow: the orphaned backends and workers
# notice and exit, the server starts again after crash recovery, nothing
# committed is lost, an overdue timer fires promptly and the workflow runs
# to its end with the activity that was running when the server died.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::RealBin;
use DurableTest;

my $node = durable_node('kill9');

sub sql { return $node->safe_psql('postgres', shift); }

sql("CREATE EXTENSION durable");
sql("SELECT durable.start_workflow('K', workflow_id => 'k9', task_queue => 'k9')");
my $tok = sql("SELECT task_token FROM durable.poll_task('k9', 'w1')");
sql(qq{SELECT durable.complete_workflow_task('$tok', '[
	{"type": "schedule_activity", "activity_id": "a", "activity_type": "A", "start_to_close_timeout": "1 minute"},
	{"type": "start_timer", "timer_id": "t", "duration": "1 second"}]')});
my $act = sql("SELECT task_token FROM durable.poll_task('k9', 'w1', '{activity}')");
like($act, qr/^a:/, 'the activity is running when the server dies');
my $events_before = sql("SELECT string_agg(event_id || ' ' || event_type, ',' ORDER BY event_id) FROM durable.get_history('k9')");
my $n_before = sql("SELECT history_length FROM durable.workflows WHERE workflow_id = 'k9'");

# SIGKILL the postmaster; wait for its children to go, then start again
$node->kill9;
ok(PostgreSQL::Test::Utils::system_log('bash', '-c',
		'for i in $(seq 1 100); do pgrep -f "^postgres: kill9:" >/dev/null || exit 0; sleep 0.1; done; exit 1') == 0,
	'the orphaned processes exit');
sleep(2);    # let the timer become overdue while the server is down
$node->start;

is(sql("SELECT string_agg(event_id || ' ' || event_type, ',' ORDER BY event_id) FROM durable.get_history('k9') WHERE event_id <= $n_before"),
	$events_before, 'no committed event was lost');
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM durable.get_history('k9') WHERE event_type = 'TimerFired'"),
	'the overdue timer fires after the restart');
sql("SELECT durable.complete_activity('$act', '\"survived\"')");
my $wft = '';
foreach my $i (1 .. 3)
{
	my $t = sql("SELECT task_token || ' ' || (history @> '[{\"event_type\": \"ActivityTaskCompleted\"}]')::text FROM durable.poll_task('k9', 'w2', '{workflow}', '10 seconds')");
	my ($token, $done) = split / /, $t;
	if ($done eq 'true')
	{
		sql(qq{SELECT durable.complete_workflow_task('$token', '[{"type": "complete_workflow", "result": "ok"}]')});
		last;
	}
	sql("SELECT durable.complete_workflow_task('$token', '[]')");
}
is(sql("SELECT durable.workflow_result('k9', wait => '10 seconds')"), '"ok"', 'the workflow completes');
is(sql("SELECT bool_and(event_id = rn) FROM (SELECT event_id, row_number() OVER (ORDER BY event_id) AS rn FROM durable.get_history('k9')) s"),
	't', 'event ids stay contiguous from 1');

$node->stop;
done_testing();
