# A dead worker's tasks come back at once (sessions.c): when the worker
# session that holds a task ends (here: the worker polls on the connection
# it opened its session on, and is killed), the engine times the attempt out
# with Temporal's events and it is retried by its policy, without waiting
# for the lease.  A worker with a session may lose a pooled connection
# without losing its tasks; a worker without one keeps the lease behaviour.
# The figure the issue asks for: from SIGKILL of the worker to the task's
# re-dispatch, p99 <= 300 ms.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

use FindBin;
use lib $FindBin::RealBin;
use DurableTest;

my $node = durable_node('dead');

sub sql { return $node->safe_psql('postgres', shift); }

sql('CREATE EXTENSION durable');
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM durable.engine_workers WHERE datname = 'postgres' AND state = 'active' AND pid IS NOT NULL"),
	'engine worker active');

# a workflow whose activity is ready: leases of an hour, so only the
# worker's death can bring a task back soon; retries after 10 ms
sub start_with_activity
{
	my ($wid, $queue) = @_;
	sql("SELECT durable.start_workflow('Dead', workflow_id => '$wid', task_queue => '$queue', task_timeout => '1 hour')");
	my $tok = sql("SELECT task_token FROM durable.poll_task('$queue', 'w0', kinds => '{workflow}')");
	sql(qq{SELECT durable.complete_workflow_task('$tok', '[{"type": "schedule_activity", "activity_id": "a",
		"activity_type": "A", "start_to_close_timeout": "1 hour",
		"retry_policy": {"initial_interval": "10 milliseconds"}}]')});
}

# kill -9 a background psql (the worker process; its backend sees the
# connection end)
sub kill_psql
{
	my $psql = shift;
	$psql->{run}->signal('KILL');
	eval { $psql->{run}->finish; };
}

my $poller = $node->background_psql('postgres');

# the time from the kill to the moment a waiting poller holds the task
sub redispatch_ms
{
	my ($queue, $kinds, $t0) = @_;
	my $r = $poller->query_safe(
		"SELECT extract(epoch FROM clock_timestamp()), attempt FROM durable.poll_task('$queue', 'w-next', kinds => '$kinds', wait => '20 seconds')");
	my ($at, $attempt) = split /\|/, $r;
	return (($at - $t0) * 1000, $attempt);
}

sub p99
{
	my @v = sort { $a <=> $b } @_;
	return $v[int(0.99 * $#v + 0.5)];
}

# --- activities --------------------------------------------------------------

my (@act_ms, @act_attempts);
for my $i (1 .. 20)
{
	start_with_activity("dw-a$i", 'dq');
	my $worker = $node->background_psql('postgres');
	$worker->query_safe("SELECT durable.open_worker_session('w-doomed-a$i')");
	my $tok = $worker->query_safe("SELECT task_token FROM durable.poll_task('dq', 'w-doomed-a$i', kinds => '{activity}')");
	like($tok, qr/^a:/, "activity $i claimed") if $i == 1;
	my $t0 = time();
	kill_psql($worker);
	my ($ms, $attempt) = redispatch_ms('dq', '{activity}', $t0);
	push @act_ms, $ms;
	push @act_attempts, $attempt;
	is($poller->query_safe("SELECT last_failure->>'timeout_type' || ' ' || (last_failure->>'message')
		FROM durable.activities a JOIN durable.workflows w USING (run_id) WHERE w.workflow_id = 'dw-a1'"),
		'START_TO_CLOSE activity Start To Close timeout',
		'the killed attempt failed with a start-to-close timeout') if $i == 1;
	$poller->query_safe("SELECT durable.terminate_workflow('dw-a$i')");
}
is(join(',', @act_attempts), join(',', (2) x 20), 'every killed activity attempt came back as attempt 2');
my $act_p99 = p99(@act_ms);
note(sprintf('activity re-dispatch after SIGKILL: p50 %.1f ms, p99 %.1f ms, max %.1f ms',
		(sort { $a <=> $b } @act_ms)[10], $act_p99, (sort { $b <=> $a } @act_ms)[0]));
cmp_ok($act_p99, '<=', 300, 'activity: death to re-dispatch p99 <= 300 ms');

# --- workflow tasks ------------------------------------------------------------

my (@wft_ms, @wft_attempts);
for my $i (1 .. 20)
{
	sql("SELECT durable.start_workflow('Dead', workflow_id => 'dw-w$i', task_queue => 'dwq', task_timeout => '1 hour')");
	my $worker = $node->background_psql('postgres');
	$worker->query_safe("SELECT durable.open_worker_session('w-doomed-w$i')");
	my $tok = $worker->query_safe("SELECT task_token FROM durable.poll_task('dwq', 'w-doomed-w$i', kinds => '{workflow}')");
	like($tok, qr/^w:/, "workflow task $i claimed") if $i == 1;
	my $t0 = time();
	kill_psql($worker);
	my ($ms, $attempt) = redispatch_ms('dwq', '{workflow}', $t0);
	push @wft_ms, $ms;
	push @wft_attempts, $attempt;
	$poller->query_safe("SELECT durable.terminate_workflow('dw-w$i')");
}
is(join(',', @wft_attempts), join(',', (2) x 20), 'every killed workflow task came back as attempt 2');
my $wft_p99 = p99(@wft_ms);
note(sprintf('workflow task re-dispatch after SIGKILL: p50 %.1f ms, p99 %.1f ms, max %.1f ms',
		(sort { $a <=> $b } @wft_ms)[10], $wft_p99, (sort { $b <=> $a } @wft_ms)[0]));
cmp_ok($wft_p99, '<=', 300, 'workflow task: death to re-dispatch p99 <= 300 ms');
like(sql(q{SELECT string_agg(event_type, ',' ORDER BY event_id) FROM durable.history
	WHERE run_id = (SELECT run_id FROM durable.workflows WHERE workflow_id = 'dw-w1')}),
	qr/^WorkflowExecutionStarted,WorkflowTaskScheduled,WorkflowTaskStarted,WorkflowTaskTimedOut,/,
	'the dead workflow task is recorded as timed out (its retry is transient, as in Temporal)');

# --- worker sessions -----------------------------------------------------------

# a worker with a session loses a pooled connection: its task stays its own
my $session = $node->background_psql('postgres');
$session->query_safe("SELECT durable.open_worker_session('w-pooled')");
start_with_activity('dw-s1', 'dsq');
my $pooled = $node->background_psql('postgres');
my $stok = $pooled->query_safe("SELECT task_token FROM durable.poll_task('dsq', 'w-pooled', kinds => '{activity}')");
kill_psql($pooled);
is($poller->query_safe("SELECT count(*) FROM durable.poll_task('dsq', 'w-next', kinds => '{activity}', wait => '1 second')"),
	'0', 'a session\'s task survives the death of the connection that claimed it');
is(sql("SELECT durable.complete_activity('$stok', '\"done\"') IS NULL"), 't',
	'and the worker completes it on another connection');
is(sql("SELECT count(*) FROM durable.get_history('dw-s1') WHERE event_type = 'ActivityTaskCompleted'"),
	'1', 'the completion is recorded');

# the session itself dies: its tasks come back at once
start_with_activity('dw-s2', 'dsq');
my $pooled2 = $node->background_psql('postgres');
$pooled2->query_safe("SELECT task_token FROM durable.poll_task('dsq', 'w-pooled', kinds => '{activity}')");
my $t0 = time();
kill_psql($session);
my ($ms, $attempt) = redispatch_ms('dsq', '{activity}', $t0);
is($attempt, 2, 'the session\'s task comes back when the session dies');
cmp_ok($ms, '<=', 300, sprintf('within 300 ms (%.1f ms)', $ms));
$pooled2->quit;

# close_worker_session gives the tasks back at once, too
my $s2 = $node->background_psql('postgres');
$s2->query_safe("SELECT durable.open_worker_session('w-closing')");
start_with_activity('dw-s3', 'dsq');
$s2->query_safe("SELECT task_token FROM durable.poll_task('dsq', 'w-closing', kinds => '{activity}')");
is($s2->query_safe('SELECT durable.close_worker_session()'), 't', 'close_worker_session');
($ms, $attempt) = redispatch_ms('dsq', '{activity}', time());
is($attempt, 2, 'a closed session\'s task comes back');
$s2->quit;

# without a session a task outlives the connection that claimed it (poll on
# one connection, complete on another: psql per call, a pool)
start_with_activity('dw-n1', 'dnq');
my $ntok = sql("SELECT task_token FROM durable.poll_task('dnq', 'w-nosession', kinds => '{activity}')");
is($poller->query_safe("SELECT count(*) FROM durable.poll_task('dnq', 'w-next', kinds => '{activity}', wait => '500 milliseconds')"),
	'0', 'without a session, a task is not given back when its connection closes');
is(sql("SELECT durable.complete_activity('$ntok', '1') IS NULL"), 't',
	'and another connection completes it');

# a live session's claims are untouched by others' deaths
start_with_activity('dw-l1', 'dlq');
my $live = $node->background_psql('postgres');
$live->query_safe("SELECT durable.open_worker_session('w-live')");
my $ltok = $live->query_safe("SELECT task_token FROM durable.poll_task('dlq', 'w-live', kinds => '{activity}')");
for (1 .. 3)
{
	my $other = $node->background_psql('postgres');
	$other->query_safe("SELECT durable.open_worker_session('w-other-$_')");
	kill_psql($other);
}
is($poller->query_safe("SELECT count(*) FROM durable.poll_task('dlq', 'w-next', kinds => '{activity}', wait => '500 milliseconds')"),
	'0', 'other connections dying leave a live worker\'s task alone');
is($live->query_safe("SELECT durable.complete_activity('$ltok', '1') IS NULL"), 't',
	'the live worker completes it');
$live->quit;

# a dead long poll: the backend notices its client left at once
my $lp = $node->background_psql('postgres');
$lp->query_until(qr/start/, q{\echo start
SELECT * FROM durable.poll_task('nothing-here', 'w-lp', wait => '1 hour');
});
my $lp_pid = sql("SELECT pid FROM pg_stat_activity WHERE query LIKE '%nothing-here%' AND pid <> pg_backend_pid()");
kill_psql($lp);
ok($node->poll_query_until('postgres', "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = '$lp_pid'"),
	'a long poll whose client was killed ends');

# a query whose caller was killed gives its query slot back at once, not
# at its timeout (an hour here)
sql("SELECT durable.start_workflow('Dead', workflow_id => 'dw-q1', task_queue => 'nobody-polls')");
my $asker = $node->background_psql('postgres');
$asker->query_until(qr/start/, q{\echo start
SELECT durable.query_workflow('dw-q1', 'state', timeout => '1 hour');
});
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE query LIKE '%query_workflow(''dw-q1''%' AND pid <> pg_backend_pid()"),
	'the query waits');
my $q_pid = sql("SELECT pid FROM pg_stat_activity WHERE query LIKE '%query_workflow(''dw-q1''%' AND pid <> pg_backend_pid()");
kill_psql($asker);
ok($node->poll_query_until('postgres', "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = '$q_pid'"),
	'a query whose caller was killed ends');
# (its backend's exit frees the query slot: dur_query_exit)

$poller->quit;
$node->stop;
done_testing();
