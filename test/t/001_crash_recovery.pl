# Crash recovery: an immediate shutdown empties the unlogged task queue and
# forgets every lease.  After the restart the engine worker must come back,
# rebuild the queue from the durable tables (running activities and workflow
# tasks are pollable again, with the same deterministic tokens), fire the
# timer that fell due while the server was down, and lose nothing from
# history; a completion with a token from before the crash still counts,
# exactly once; and every workflow can be driven to completion.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::RealBin;
use DurableTest;
use Time::HiRes qw(time usleep);

my $node = durable_node('crash');

sub sql { return $node->safe_psql('postgres', shift); }

sql("CREATE EXTENSION durable");
ok(engine_active($node), 'engine worker active after CREATE EXTENSION');

sub history_types
{
	my $wid = shift;
	return sql("SELECT string_agg(event_type, ',' ORDER BY event_id) FROM durable.get_history('$wid')");
}

# --- drive three workflows part way ---------------------------------------

# cr_act: its activity is running (claimed lease)
sql("SELECT durable.start_workflow('CrashWorkflow', workflow_id => 'cr_act', task_queue => 'q_act')");
my $tok = sql("SELECT task_token FROM durable.poll_task('q_act', 'w1', kinds => '{workflow}')");
like($tok, qr/^w:/, 'cr_act: workflow task claimed');
sql(qq{SELECT durable.complete_workflow_task('$tok', '[{"type": "schedule_activity", "activity_id": "a1", "activity_type": "Act", "start_to_close_timeout": "1 hour"}]')});
my $act_token = sql("SELECT task_token FROM durable.poll_task('q_act', 'w1', kinds => '{activity}')");
like($act_token, qr/^a:/, 'cr_act: activity claimed');

# cr_timer: a 2-second timer is pending
sql("SELECT durable.start_workflow('CrashWorkflow', workflow_id => 'cr_timer', task_queue => 'q_timer')");
$tok = sql("SELECT task_token FROM durable.poll_task('q_timer', 'w1')");
sql(qq{SELECT durable.complete_workflow_task('$tok', '[{"type": "start_timer", "timer_id": "t1", "duration": "2 seconds"}]')});
my $fire_epoch = sql("SELECT extract(epoch FROM fire_time) FROM durable.timers WHERE kind = 'user' AND timer_id = 't1'");
ok($fire_epoch > 0, 'cr_timer: timer pending');

# cr_wft: its workflow task is running (claimed lease)
sql("SELECT durable.start_workflow('CrashWorkflow', workflow_id => 'cr_wft', task_queue => 'q_wft', task_timeout => '1 hour')");
my $wft_token = sql("SELECT task_token FROM durable.poll_task('q_wft', 'w1')");
like($wft_token, qr/^w:/, 'cr_wft: workflow task claimed');

is(sql("SELECT count(*) FROM durable.tasks WHERE started_time IS NOT NULL"), '2',
	'two leased tasks before the crash');

my %before;
$before{$_} = history_types($_) for qw(cr_act cr_timer cr_wft);
my $engine_pid_before = sql("SELECT pid FROM durable.engine_workers WHERE datname = 'postgres'");

# --- crash ------------------------------------------------------------------

$node->stop('immediate');

# let the timer fall due while the server is down (a precondition, not an outcome)
usleep(100_000) while time() < $fire_epoch + 0.5;

$node->start;
my $restart_time = time();
ok(engine_active($node), 'engine worker restarts after the crash');
isnt(sql("SELECT pid FROM durable.engine_workers WHERE datname = 'postgres'"), $engine_pid_before,
	'it is a new engine process');
is(sql("SELECT count(*) FROM durable.engine_state"), '1', 'the task queue was rebuilt (engine_state marker)');

# the overdue timer fires promptly
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM durable.get_history('cr_timer') WHERE event_type = 'TimerFired'"),
	'overdue timer fired after the restart');
my $fired_after = time() - $restart_time;
cmp_ok($fired_after, '<', 10, "timer fired ${fired_after}s after the restart");

# nothing in history was lost
for my $wid (qw(cr_act cr_wft))
{
	is(history_types($wid), $before{$wid}, "$wid: history unchanged by the crash");
}
like(history_types('cr_timer'), qr/^\Q$before{cr_timer}\E,TimerFired,WorkflowTaskScheduled$/,
	'cr_timer: history kept, then TimerFired and a new workflow task');
is(sql("SELECT bool_and(history_length = (SELECT count(*) FROM durable.history h WHERE h.run_id = w.run_id)
		AND history_length = (SELECT max(event_id) FROM durable.history h WHERE h.run_id = w.run_id))
	  FROM durable.workflows w"), 't', 'event ids contiguous in every run');

# the queue was rebuilt: the claimed tasks are ready and pollable again
is(sql("SELECT count(*) FROM durable.tasks WHERE started_time IS NOT NULL"), '0', 'no leases survive the crash');
# the same task (run, attempt or sequence, event id); only the start time
# each token carries (and so its signature) is the new worker's
my $act_token2 = sql("SELECT task_token FROM durable.poll_task('q_act', 'w2', kinds => '{activity}')");
(my $same_attempt = $act_token) =~ s/:\d+:[0-9a-f]+$//;
like($act_token2, qr/^\Q$same_attempt\E:\d+:[0-9a-f]{32}$/, 'cr_act: the running activity is pollable again, as the same attempt');
my $wft_token2 = sql("SELECT task_token FROM durable.poll_task('q_wft', 'w2')");
(my $same_task = $wft_token) =~ s/:\d+:[0-9a-f]+$//;
like($wft_token2, qr/^\Q$same_task\E:\d+:[0-9a-f]{32}$/, 'cr_wft: the running workflow task is pollable again, as the same task');

# a completion with the token from before the crash counts, once
sql("SELECT durable.complete_activity('$act_token', '\"result from before the crash\"')");
my ($rc, $out, $err) = $node->psql('postgres',
	"SELECT durable.complete_activity('$act_token', '\"again\"')",
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
isnt($rc, 0, 'completing the activity a second time fails');
like($err, qr/DU004/, '... with DU004 (stale task token)');
is(sql("SELECT count(*) FROM durable.get_history('cr_act') WHERE event_type = 'ActivityTaskCompleted'"), '1',
	'exactly one ActivityTaskCompleted');
is(sql("SELECT attributes->>'result' FROM durable.get_history('cr_act') WHERE event_type = 'ActivityTaskCompleted'"),
	'result from before the crash', 'with the old token\'s result');

# --- drive every workflow to completion -------------------------------------

# cr_wft: complete the re-polled task with the old token
is(sql(qq{SELECT durable.complete_workflow_task('$wft_token', '[{"type": "complete_workflow", "result": "wft"}]') ->> 'outcome'}),
	'completed', 'cr_wft: old workflow task token completes the workflow');
# WorkflowTaskStarted records the time the first worker was given (its
# workflow clock), not the re-poll's nor the completion's
my $given_us = (split /:/, $wft_token)[-2];
is(sql("SELECT (EXTRACT(epoch FROM event_time) * 1000000)::bigint FROM durable.get_history('cr_wft') WHERE event_type = 'WorkflowTaskStarted' ORDER BY event_id DESC LIMIT 1"),
	$given_us, 'cr_wft: WorkflowTaskStarted keeps the start time the old token carries');

for my $pair ([ 'cr_act', 'q_act' ], [ 'cr_timer', 'q_timer' ])
{
	my ($wid, $queue) = @$pair;
	my $t = sql("SELECT task_token FROM durable.poll_task('$queue', 'w3', kinds => '{workflow}')");
	like($t, qr/^w:/, "$wid: next workflow task after the crash");
	is(sql(qq{SELECT durable.complete_workflow_task('$t', '[{"type": "complete_workflow", "result": "$wid"}]') ->> 'outcome'}),
		'completed', "$wid: completed");
}

is(sql("SELECT string_agg(workflow_id || '=' || status, ',' ORDER BY workflow_id COLLATE \"C\") FROM durable.workflows"),
	'cr_act=completed,cr_timer=completed,cr_wft=completed', 'all workflows completed');
is(sql("SELECT durable.workflow_result('cr_timer')"), '"cr_timer"', 'workflow_result after recovery');
is(sql("SELECT count(*) FROM durable.tasks") . '/' . sql("SELECT count(*) FROM durable.timers")
	  . '/' . sql("SELECT count(*) FROM durable.activities"),
	'0/0/0', 'no tasks, timers or activities left');

$node->stop;
done_testing();
