# A run whose lock another transaction holds (an application's signal left
# uncommitted, a worker's completion in its own long transaction) stalls
# nothing but that run: the timer service fires the other runs' deadlines on
# time and comes back to the busy run once it is free, and after a crash the
# queue rebuild restores every other run's tasks at once and the busy run's
# when its transaction ends.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

use FindBin;
use lib $FindBin::RealBin;
use DurableTest;

my $node = durable_node('busy');

sub sql { return $node->safe_psql('postgres', shift); }

# start a workflow and complete its first task with the given commands
sub start_with
{
	my ($wid, $queue, $commands) = @_;
	sql("SELECT durable.start_workflow('Busy', workflow_id => '$wid', task_queue => '$queue', task_timeout => '1 hour')");
	my $tok = sql("SELECT task_token FROM durable.poll_task('$queue', 'w1', kinds => '{workflow}')");
	sql("SELECT durable.complete_workflow_task('$tok', '$commands')");
}

sub fired
{
	my $wid = shift;
	return sql("SELECT count(*) FROM durable.get_history('$wid') WHERE event_type = 'TimerFired'");
}

sql('CREATE EXTENSION durable');
ok(engine_active($node), 'engine worker active');

# --- timers: a busy run does not hold back the others -----------------------

start_with('b-held', 'qt', '[{"type": "start_timer", "timer_id": "t", "duration": "1 second"}]');
start_with('b-free', 'qt', '[{"type": "start_timer", "timer_id": "t", "duration": "1 second"}]');
my $due = time() + 1;

# an application signals b-held in a transaction it leaves open
my $app = $node->background_psql('postgres');
$app->query_safe('BEGIN');
$app->query_safe("SELECT durable.signal_workflow('b-held', 'wait')");

ok($node->poll_query_until('postgres', "SELECT " . "count(*) = 1 FROM durable.get_history('b-free') WHERE event_type = 'TimerFired'"),
	'the free run\'s timer fires while the other run is held');
my $late = time() - $due;
cmp_ok($late, '<', 3, "it fires on time (${late}s after it was due), not when the other run is freed");
usleep(500_000);
is(fired('b-held'), '0', 'the held run\'s timer waits for its run');

$app->query_safe('COMMIT');
ok($node->poll_query_until('postgres', "SELECT count(*) = 1 FROM durable.get_history('b-held') WHERE event_type = 'TimerFired'"),
	'once the run is free its timer fires');
is(sql("SELECT string_agg(event_type, ',' ORDER BY event_id) FROM durable.get_history('b-held') WHERE event_id > 5"),
	'WorkflowExecutionSignaled,WorkflowTaskScheduled,TimerFired',
	'after the signal the application committed');

# --- the queue rebuild passes a busy run over ------------------------------

start_with('r-held', 'qr',
	'[{"type": "schedule_activity", "activity_id": "a", "activity_type": "A", "start_to_close_timeout": "1 hour"}]');
start_with('r-free', 'qr',
	'[{"type": "schedule_activity", "activity_id": "a", "activity_type": "A", "start_to_close_timeout": "1 hour"}]');
is(sql("SELECT count(*) FROM durable.tasks WHERE task_queue = 'qr' AND kind = 'activity'"), '2',
	'two activities are queued');

# what a crash does to the unlogged tables (001_crash_recovery.pl crashes for
# real; here the rebuild is driven by hand to hold a run's lock across it)
sql('DELETE FROM durable.tasks; DELETE FROM durable.engine_state');
$app->query_safe('BEGIN');
$app->query_safe("SELECT durable.signal_workflow('r-held', 'wait')");

my $rebuilder = $node->background_psql('postgres');
my $again = $rebuilder->query_safe('SELECT durable._engine_startup(10) IS NOT NULL');
is($again, 't', 'the rebuild is not finished while a run is busy');
is(sql(q{SELECT string_agg(w.workflow_id, ',') FROM durable.tasks t JOIN durable.workflows w USING (run_id)
	WHERE t.task_queue = 'qr' AND t.kind = 'activity'}), 'r-free',
	'the free run\'s activity is back in the queue at once');
$app->query_safe('COMMIT');
$app->quit;
usleep(100_000);
is($rebuilder->query_safe('SELECT durable._engine_startup(10) IS NULL'), 't',
	'the next pass finishes once the run is free');
$rebuilder->quit;
is(sql(q{SELECT string_agg(w.workflow_id, ',' ORDER BY w.workflow_id) FROM durable.tasks t
	JOIN durable.workflows w USING (run_id) WHERE t.task_queue = 'qr' AND t.kind = 'activity'}),
	'r-free,r-held', 'both activities are in the queue');
is(sql('SELECT count(*) FROM durable.engine_state'), '1', 'and the queue is marked whole');
my $atok = sql("SELECT task_token FROM durable.poll_task('qr', 'w2', kinds => '{activity}')");
like($atok, qr/^a:/, 'the rebuilt activities can be claimed');

$node->stop;
done_testing();
