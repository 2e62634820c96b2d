# Build-id versioning across restarts (issue 12).  A queue with a current
# build v1 and a ramping build v2 at 50 %: the settings are committed state
# (durable.task_queues), so they hold after a clean restart and after a
# kill -9 of the postmaster (crash recovery empties the unlogged task queue,
# which the engine rebuilds: every rebuilt task must keep its run's build).
# Runs keep the build they started with; new runs are split by the ramp,
# the same way for the same workflow id before and after; a poller of each
# build drains exactly the runs of its build to completion, and a poller of
# another build (or of none) gets nothing.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

use FindBin;
use lib $FindBin::RealBin;
use DurableTest;

my $node = durable_node('versioning', conf => "restart_after_crash = on\n");

sub sql { return $node->safe_psql('postgres', shift); }

# "wid:build,..." of the runs whose workflow id matches $like, running or not
sub builds
{
	my ($like, $status) = @_;
	$status //= 'running';
	return sql("SELECT string_agg(workflow_id || ':' || coalesce(build_id, '-'), ',' ORDER BY workflow_id COLLATE \"C\")
		FROM durable.workflows WHERE task_queue = 'vq' AND workflow_id LIKE '$like' AND status = '$status'");
}

sub versioning
{
	return sql("SELECT (durable.describe_task_queue('vq')->'versioning')::text");
}

sub start_runs
{
	my ($prefix, $n) = @_;
	sql("SELECT count(durable.start_workflow('V', NULL, '$prefix' || i, 'vq')) FROM generate_series(1, $n) i");
}

# the queue is rebuilt after a crash: wait until every running run's
# workflow task is back in it
sub queue_rebuilt
{
	return $node->poll_query_until('postgres',
		"SELECT (SELECT count(*) FROM durable.tasks WHERE task_queue = 'vq' AND kind = 'workflow')
			  = (SELECT count(*) FROM durable.workflows WHERE task_queue = 'vq' AND status = 'running')");
}

my $ramp50 = '{"current_build_id": "v1", "ramping_build_id": "v2", "ramping_percentage": 50}';

sql("CREATE EXTENSION durable");
ok(engine_active($node), 'engine worker active');
sql("SELECT durable.set_current_build('vq', 'v1')");
sql("SELECT durable.set_ramping_build('vq', 'v2', 50)");
is(versioning(), $ramp50, 'current v1, ramping v2 at 50 %');

start_runs('pre-', 40);
my $pre = builds('pre-%');
my $n_v1 = () = $pre =~ /:v1(,|$)/g;
my $n_v2 = () = $pre =~ /:v2(,|$)/g;
is($n_v1 + $n_v2, 40, 'every run is pinned to v1 or v2');
cmp_ok($n_v1, '>', 0, "some runs on v1 ($n_v1)");
cmp_ok($n_v2, '>', 0, "some runs on v2 ($n_v2)");

# pre-1..pre-10 are terminated now and started again after each restart:
# the ramp must place a workflow id on the same build every time
my $redo = builds('pre-_');    # pre-1 .. pre-9
$redo .= ',' . builds('pre-10');
foreach my $i (1 .. 10)
{
	sql("SELECT durable.terminate_workflow('pre-$i', 'redo')");
}

# --- clean restart ---------------------------------------------------------

$node->restart;
ok(engine_active($node), 'engine worker active after the restart');
is(versioning(), $ramp50, 'after a restart: current and ramp still in force');
is(sql("SELECT tasks_per_second IS NULL AND current_build_id = 'v1' AND ramping_build_id = 'v2' AND ramping_percentage = 50
	FROM durable.task_queues WHERE namespace = 'default' AND task_queue = 'vq'"), 't', 'durable.task_queues row kept');
my $pre_running = builds('pre-%');
my $expect_running = join(',', grep { !/^pre-(\d+):/ || $1 > 10 } split /,/, $pre);
is($pre_running, $expect_running, 'the running runs keep their builds');
foreach my $i (1 .. 10)
{
	sql("SELECT durable.start_workflow('V', NULL, 'pre-$i', 'vq')");
}
is(join(',', sort split /,/, builds('pre-_') . ',' . builds('pre-10')), join(',', sort split /,/, $redo),
	'a workflow id started again after the restart gets the same build from the ramp');
start_runs('mid-', 40);
my $mid = builds('mid-%');
my $m_v1 = () = $mid =~ /:v1(,|$)/g;
my $m_v2 = () = $mid =~ /:v2(,|$)/g;
ok($m_v1 + $m_v2 == 40 && $m_v1 > 0 && $m_v2 > 0, "new runs are split by the ramp ($m_v1 v1, $m_v2 v2)");

# a change committed just before the crash counts: ramp to 100 %
sql("SELECT durable.set_ramping_build('vq', 'v2', 100)");

# --- kill -9 of the postmaster ---------------------------------------------

my $all_before = builds('%');
my $pm_pid = $node->{_pid};
$node->kill9;
ok(PostgreSQL::Test::Utils::system_log('bash', '-c',
		'for i in $(seq 1 100); do pgrep -f "^postgres: versioning:" >/dev/null || exit 0; sleep 0.1; done; exit 1') == 0,
	'the orphaned processes exit');
# and the postmaster is gone (reaped) before a new one starts
foreach my $i (1 .. 100)
{
	last unless -e "/proc/$pm_pid";
	usleep(100_000);
}
sleep(1);
$node->start;
ok(engine_active($node), 'engine worker active after the kill -9');
is(versioning(), '{"current_build_id": "v1", "ramping_build_id": "v2", "ramping_percentage": 100}',
	'after the crash: current v1, ramp v2 at 100 % (committed before the crash)');
ok(queue_rebuilt(), 'the task queue was rebuilt');
is(builds('%'), $all_before, 'every run keeps its build across the crash');
is(sql("SELECT count(*) FROM durable.tasks t JOIN durable.workflows w USING (run_id)
	WHERE t.task_queue = 'vq' AND t.started_time IS NULL"),
	sql("SELECT count(*) FROM durable.workflows WHERE task_queue = 'vq' AND status = 'running'"),
	'one ready workflow task per running run');
start_runs('post-', 10);
is(sql("SELECT string_agg(DISTINCT build_id, ',') FROM durable.workflows WHERE workflow_id LIKE 'post-%'"), 'v2',
	'new runs all go to v2 at 100 %');
sql("SELECT durable.set_ramping_build('vq', 'v2', 50)");

# --- draining: each build's poller gets exactly its runs --------------------

is(sql("SELECT count(*) FROM durable.poll_task('vq', 'w-none', '{workflow}')"), '0',
	'an unversioned poller gets nothing');
is(sql("SELECT count(*) FROM durable.poll_task('vq', 'w-v3', '{workflow}', build_id => 'v3')"), '0',
	'a poller of an unknown build gets nothing');

# poll as $build until nothing is left, completing each run; the workflow ids
sub drain
{
	my $build = shift;
	my @got;
	foreach my $i (1 .. 500)
	{
		my $r = sql("SELECT task_token || ' ' || workflow_id FROM durable.poll_task('vq', 'w-$build', '{workflow}', build_id => '$build')");
		last if $r eq '';
		my ($tok, $wid) = split / /, $r;
		sql(qq{SELECT durable.complete_workflow_task('$tok', '[{"type": "complete_workflow", "result": "$build"}]')});
		push @got, $wid;
	}
	return join(',', sort @got);
}

my %want;
foreach my $b (qw(v1 v2))
{
	$want{$b} = sql("SELECT string_agg(workflow_id, ',' ORDER BY workflow_id) FROM durable.workflows
		WHERE task_queue = 'vq' AND status = 'running' AND build_id = '$b'");
	$want{$b} = join(',', sort split /,/, $want{$b});
}
my $v1_got = drain('v1');
is($v1_got, $want{v1}, 'the v1 poller drained exactly the v1 runs');
is(sql("SELECT count(*) FROM durable.workflows WHERE task_queue = 'vq' AND status = 'running' AND build_id = 'v1'"), '0',
	'no v1 run left running');
my $v2_got = drain('v2');
is($v2_got, $want{v2}, 'the v2 poller drained exactly the v2 runs');
is(sql("SELECT count(*) FROM durable.workflows WHERE task_queue = 'vq' AND status = 'running'"), '0',
	'every run completed');
is(sql("SELECT count(*) FROM durable.workflows WHERE task_queue = 'vq' AND status = 'completed' AND result <> to_jsonb(build_id)"),
	'0', 'each run was completed by a poller of its own build');
is(sql("SELECT count(*) FROM durable.tasks WHERE task_queue = 'vq'"), '0', 'the queue is empty');

$node->stop;
done_testing();
