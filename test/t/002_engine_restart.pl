# The engine worker's life cycle: SIGTERM makes it exit and the launcher
# starts a new one; SIGKILL makes the postmaster crash-restart the whole
# cluster, after which the launcher and the engine come back.  Timers keep
# firing across both.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::RealBin;
use DurableTest;

# PostgreSQL::Test::Cluster turns crash restarts off; this test needs them
my $node = durable_node('restart', conf => "restart_after_crash = on\n");

sub sql { return $node->safe_psql('postgres', shift); }

# Start a workflow whose first task sets a timer of $duration; returns nothing.
sub start_timer_workflow
{
	my ($wid, $duration) = @_;
	sql("SELECT durable.start_workflow('TimerWorkflow', workflow_id => '$wid', task_queue => 'q_$wid')");
	my $tok = sql("SELECT task_token FROM durable.poll_task('q_$wid', 'w1')");
	sql(qq{SELECT durable.complete_workflow_task('$tok', '[{"type": "start_timer", "timer_id": "t", "duration": "$duration"}]')});
}

sub timer_fired
{
	my $wid = shift;
	return $node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM durable.get_history('$wid') WHERE event_type = 'TimerFired'");
}

sql("CREATE EXTENSION durable");
ok(engine_active($node), 'engine worker active');
my $pid1 = engine_pid($node);
like($pid1, qr/^\d+$/, "engine pid $pid1");
is(sql("SELECT backend_type FROM pg_stat_activity WHERE pid = $pid1"), 'durable engine',
	'pg_stat_activity shows it as a durable engine');

start_timer_workflow('before_term', '1 second');
ok(timer_fired('before_term'), 'a timer fires');

# --- SIGTERM: the launcher restarts the engine -----------------------------

start_timer_workflow('across_term', '3 seconds');
kill 'TERM', $pid1;
ok(engine_active($node, $pid1), 'after SIGTERM the engine comes back');
my $pid2 = engine_pid($node);
isnt($pid2, $pid1, "with a new pid $pid2");
is(sql("SELECT count(*) FROM pg_stat_activity WHERE pid = $pid1"), '0', 'the old engine is gone');
ok(timer_fired('across_term'), 'a timer set before the SIGTERM fires');
start_timer_workflow('after_term', '1 second');
ok(timer_fired('after_term'), 'a timer set after the restart fires');

# --- SIGKILL: crash restart of the cluster ---------------------------------

my $log_offset = -s $node->logfile;
my $launcher1 = sql("SELECT pid FROM pg_stat_activity WHERE backend_type = 'durable launcher'");
like($launcher1, qr/^\d+$/, "launcher pid $launcher1");
start_timer_workflow('across_kill', '3 seconds');
kill 'KILL', $pid2;

# the postmaster notices the dead worker, resets shared memory and restarts
ok(engine_active($node, $pid2), 'after SIGKILL the engine comes back');
ok($node->log_contains(qr/all server processes terminated; reinitializing/, $log_offset),
	'the postmaster crash-restarted the cluster');
my $pid3 = engine_pid($node);
isnt($pid3, $pid2, "new engine pid $pid3");
my $launcher2 = sql("SELECT pid FROM pg_stat_activity WHERE backend_type = 'durable launcher'");
like($launcher2, qr/^\d+$/, 'the launcher runs again');
isnt($launcher2, $launcher1, 'as a new process');

ok(timer_fired('across_kill'), 'a timer set before the SIGKILL fires');
start_timer_workflow('after_kill', '1 second');
ok(timer_fired('after_kill'), 'a timer set after the crash restart fires');

# each timer fired exactly once
is(sql("SELECT string_agg(w.workflow_id || ':' || (SELECT count(*) FROM durable.history h WHERE h.run_id = w.run_id AND h.event_type = 'TimerFired'), ',' ORDER BY w.workflow_id COLLATE \"C\") FROM durable.workflows w"),
	'across_kill:1,across_term:1,after_kill:1,after_term:1,before_term:1', 'every timer fired once');

$node->stop;
done_testing();
