# Restores that resume (docs/backup.md): one source database with work in
# flight — a workflow task queued, one held by a worker with two signals
# buffered behind it, an activity queued and one held by a worker, a timer
# due a few seconds after the dump and one later — is dumped, then
# restored in every mode into a fresh database: plain SQL through psql and
# custom format through pg_restore (each in two steps, schema then data, so
# that the engine is running before the data comes, as in a large
# restore), directory format with -j 2, custom with --single-transaction, data only into CREATE EXTENSION (with and
# without --disable-triggers); and the stopped source is pg_upgrade'd
# (15 to 15) into a new cluster.  In each, nobody wakes the engine: the
# overdue timer must fire within seconds on its own.  Then a signal is
# sent, workers driven by SQL finish every workflow, the signals are in
# the order sent (Temporal: signals are delivered in the order received,
# https://docs.temporal.io/encyclopedia/workflow-message-passing#message-handler-order),
# and nothing is left stuck.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use DurableTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

# the longest the overdue timer may take to fire after a restore: the
# settle time (durable.restore_settle_time, 2 s by default), the engine's
# start and its rebuild, with room for a loaded machine
my $fire_bound = 15;

my $src = durable_node('source');
$src->safe_psql('postgres', 'CREATE DATABASE app');
$src->safe_psql('app', 'CREATE EXTENSION durable');
ok($src->poll_query_until('app',
		"SELECT count(*) = 1 FROM durable.engine_workers WHERE datname = 'app' AND state = 'active'"),
	'the source runs an engine');

# work in flight, made in an order that lets each poll take the task meant
my $setup = q{
	-- a workflow task held by worker w-old, two signals buffered behind it
	SELECT durable.start_workflow('Flow', NULL, 'signals', 'rq') IS NOT NULL;
	SELECT task_token IS NOT NULL FROM durable.poll_task('rq', 'w-old', '{workflow}');
	SELECT durable.signal_workflow('signals', 's1', '1');
	SELECT durable.signal_workflow('signals', 's2', '2');
	-- an activity held by w-old
	SELECT durable.start_workflow('Flow', NULL, 'act-started', 'rq') IS NOT NULL;
	SELECT durable.complete_workflow_task(
		(SELECT task_token FROM durable.poll_task('rq', 'w-old', '{workflow}')),
		'[{"type": "schedule_activity", "activity_id": "a1", "activity_type": "A",
		   "start_to_close_timeout": "20 seconds"}]') ->> 'outcome';
	SELECT task_token IS NOT NULL FROM durable.poll_task('rq', 'w-old', '{activity}');
	-- timers: one due a few seconds after the dump, one later
	SELECT durable.start_workflow('Flow', NULL, 'timer-soon', 'rq') IS NOT NULL;
	SELECT durable.complete_workflow_task(
		(SELECT task_token FROM durable.poll_task('rq', 'w-old', '{workflow}')),
		'[{"type": "start_timer", "timer_id": "soon", "duration": "6 seconds"}]') ->> 'outcome';
	SELECT durable.start_workflow('Flow', NULL, 'timer-later', 'rq') IS NOT NULL;
	SELECT durable.complete_workflow_task(
		(SELECT task_token FROM durable.poll_task('rq', 'w-old', '{workflow}')),
		'[{"type": "start_timer", "timer_id": "later", "duration": "30 seconds"}]') ->> 'outcome';
	-- an activity queued
	SELECT durable.start_workflow('Flow', NULL, 'act-ready', 'rq') IS NOT NULL;
	SELECT durable.complete_workflow_task(
		(SELECT task_token FROM durable.poll_task('rq', 'w-old', '{workflow}')),
		'[{"type": "schedule_activity", "activity_id": "a1", "activity_type": "A",
		   "start_to_close_timeout": "20 seconds"}]') ->> 'outcome';
	-- a workflow task queued
	SELECT durable.start_workflow('Flow', NULL, 'queued', 'rq') IS NOT NULL;
};
$src->safe_psql('app', $setup);

# what is in flight, as each restored database must show it
my $in_flight = q{
	SELECT (SELECT count(*) FROM durable.workflows WHERE status = 'running') || ' running, ' ||
		   (SELECT count(*) FROM durable.buffered_events) || ' buffered, ' ||
		   (SELECT count(*) FROM durable.activities) || ' activities, ' ||
		   (SELECT count(*) FROM durable.timers) || ' timers'
};
is($src->safe_psql('app', $in_flight), '6 running, 2 buffered, 2 activities, 2 timers',
	'the source has work in flight');
is($src->safe_psql('app',
		"SELECT count(*) FILTER (WHERE started_time IS NULL) || ' ready, ' ||
				count(*) FILTER (WHERE started_time IS NOT NULL) || ' started' FROM durable.tasks"),
	'2 ready, 2 started', 'two tasks queued and two held by a worker');

# the dumps, then the source stops before the first timer is due
my $dir = PostgreSQL::Test::Utils::tempdir;
$src->command_ok([ 'pg_dump', '-d', 'app', '-f', "$dir/app.sql" ], 'plain dump');
$src->command_ok([ 'pg_dump', '-d', 'app', '-Fc', '-f', "$dir/app.dump" ], 'custom dump');
$src->command_ok([ 'pg_dump', '-d', 'app', '-Fd', '-f', "$dir/app.dir" ], 'directory dump');
my $soon_at = $src->safe_psql('app',
	"SELECT extract(epoch FROM fire_time) FROM durable.timers WHERE timer_id = 'soon'");
$src->stop('fast');
cmp_ok(time(), '<', $soon_at, 'the dumps were taken before the first timer was due');

# wait until the first timer is overdue: every restore below happens after
sleep(1) while time() < $soon_at + 0.5;

my $dst = durable_node('target');

# A worker in SQL: takes every task of queue rq and finishes each workflow
# once what it waits for is in its history; the signals workflow returns
# its signals in history order.
my $driver = q{
CREATE FUNCTION public.drive() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
	t durable.task;
	n integer := 0;
	sigs jsonb;
	done boolean;
BEGIN
	LOOP
		SELECT * INTO t FROM durable.poll_task('rq', 'w-new');
		EXIT WHEN t.task_token IS NULL;
		n := n + 1;
		IF t.kind = 'activity' THEN
			PERFORM durable.complete_activity(t.task_token, pg_catalog.jsonb_build_object('done', t.activity_id));
			CONTINUE;
		END IF;
		sigs := pg_catalog.jsonb_path_query_array(t.history,
			'$[*] ? (@.event_type == "WorkflowExecutionSignaled").attributes.signal_name');
		done := CASE
			WHEN t.workflow_id LIKE 'timer-%' THEN t.history @? '$[*] ? (@.event_type == "TimerFired")'
			WHEN t.workflow_id LIKE 'act-%' THEN t.history @? '$[*] ? (@.event_type == "ActivityTaskCompleted")'
			WHEN t.workflow_id = 'signals' THEN pg_catalog.jsonb_array_length(sigs) = 3
			ELSE true END;
		PERFORM durable.complete_workflow_task(t.task_token,
			CASE WHEN done
				 THEN pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('type', 'complete_workflow', 'result', sigs))
				 ELSE '[]'::jsonb END);
	END LOOP;
	RETURN n;
END
$$;
};

my %elapsed;

# what the engine leaves alone until workers come (timers may fire first)
my $restored = q{
	SELECT (SELECT count(*) FROM durable.workflows WHERE status = 'running') || ' running, ' ||
		   (SELECT count(*) FROM durable.activities) || ' activities'
};

# After a restore: the engine runs and nobody wakes it; the overdue timer
# fires within $fire_bound seconds; then the late signal and the driver.
sub after_restore
{
	my ($node, $db, $mode, $t0) = @_;

	ok($node->poll_query_until($db,
			"SELECT count(*) = 1 FROM durable.engine_workers WHERE datname = '$db' AND state = 'active'"),
		"$mode: the engine runs");
	# (the engine may have fired the first timer and flushed the buffer already)
	is($node->safe_psql($db, $restored), '6 running, 2 activities',
		"$mode: the work in flight was restored");
	my $fired = 0;
	while (time() - $t0 < $fire_bound)
	{
		$fired = $node->safe_psql($db,
			"SELECT NOT EXISTS (SELECT 1 FROM durable.timers WHERE timer_id = 'soon')") eq 't';
		last if $fired;
		usleep(100_000);
	}
	$elapsed{$mode} = sprintf('%.1f', time() - $t0);
	ok($fired, "$mode: the overdue timer fired by itself after $elapsed{$mode} s");
	$node->safe_psql($db, $driver);
	$node->safe_psql($db, q{SELECT durable.signal_workflow('signals', 's3', '3')});
	return;
}

# Drive the workers of every database until all their workflows closed.
sub drive_all
{
	my ($node, @dbs) = @_;
	my $deadline = time() + 90;
	my %open = map { $_ => 1 } @dbs;

	while (%open && time() < $deadline)
	{
		foreach my $db (keys %open)
		{
			$node->safe_psql($db, 'SELECT public.drive()');
			delete $open{$db}
			  if $node->safe_psql($db,
				"SELECT count(*) FROM durable.workflows WHERE status = 'running'") eq '0';
		}
		usleep(200_000) if %open;
	}
	return;
}

# Every workflow completed, the signals in order, nothing left behind.
sub check_finished
{
	my ($node, $db, $mode) = @_;

	is($node->safe_psql($db,
			"SELECT string_agg(workflow_id || ' ' || status, ', ' ORDER BY workflow_id) FROM durable.workflows"),
		'act-ready completed, act-started completed, queued completed, signals completed, '
		  . 'timer-later completed, timer-soon completed',
		"$mode: every workflow finished");
	is($node->safe_psql($db, "SELECT result FROM durable.workflows WHERE workflow_id = 'signals'"),
		'["s1", "s2", "s3"]', "$mode: the signals are in history in the order sent");
	is($node->safe_psql($db,
			"SELECT (SELECT count(*) FROM durable.tasks) + (SELECT count(*) FROM durable.timers) +
					(SELECT count(*) FROM durable.activities) + (SELECT count(*) FROM durable.buffered_events)"),
		'0', "$mode: 0 stuck: no task, timer, activity or buffered event is left");
	return;
}

# The plain dump in two parts: up to its first COPY (the schema and CREATE
# EXTENSION), then the data.  Restored with an engine already running in
# between, as a large restore is: the engine starts at CREATE EXTENSION and
# finds an empty queue long before the data arrives.
{
	my $sql = slurp_file("$dir/app.sql");
	my $at = index($sql, "\nCOPY ");
	die "no COPY in the plain dump" if $at < 0;
	open(my $fh, '>', "$dir/app-schema.sql") or die $!;
	print $fh substr($sql, 0, $at + 1);
	close $fh;
	open($fh, '>', "$dir/app-data.sql") or die $!;
	# (a pg_dump that protects psql with \restrict KEY ends with \unrestrict KEY)
	my ($restrict) = $sql =~ /^(\\restrict \S+\n)/m;
	print $fh $restrict // '', "SELECT pg_catalog.set_config('search_path', '', false);\n",
	  substr($sql, $at + 1);
	close $fh;
}
my @psql = ('psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1');

# mode, the restore, and what runs before it (then the engine is waited for)
my @modes = (
	[ 'plain', [ @psql, '-f', "$dir/app-data.sql" ], [ @psql, '-f', "$dir/app-schema.sql" ] ],
	[ 'custom', [ 'pg_restore', '--section=data', '--section=post-data', "$dir/app.dump" ],
	  [ 'pg_restore', '--section=pre-data', "$dir/app.dump" ] ],
	[ 'directory_j2',       [ 'pg_restore', '-j', '2', "$dir/app.dir" ] ],
	[ 'single_transaction', [ 'pg_restore', '--single-transaction', "$dir/app.dump" ] ],
	[ 'data_only', [ 'pg_restore', '--data-only', "$dir/app.dump" ],
	  [ @psql, '-c', 'CREATE EXTENSION durable' ] ],
	[ 'data_only_disable_triggers', [ 'pg_restore', '--data-only', '--disable-triggers', "$dir/app.dump" ],
	  [ @psql, '-c', 'CREATE EXTENSION durable' ] ]);

foreach my $m (@modes)
{
	my ($mode, $cmd, $pre) = @$m;

	$dst->safe_psql('postgres', "CREATE DATABASE $mode");
	if (defined $pre)
	{
		$dst->command_ok([ @$pre, '-d', $mode ], "$mode: the schema is restored");
		ok($dst->poll_query_until($mode,
				"SELECT count(*) = 1 FROM durable.engine_workers WHERE datname = '$mode' AND state = 'active'")
			  && $dst->poll_query_until($mode, 'SELECT EXISTS (SELECT 1 FROM durable.engine_state)'),
			"$mode: the engine runs and has built its (empty) queue before the data comes");
	}
	my $t0 = time();
	$dst->command_ok([ @$cmd, '-d', $mode ], "$mode: the restore succeeds");
	after_restore($dst, $mode, $mode, $t0);
}
drive_all($dst, map { $_->[0] } @modes);
check_finished($dst, $_->[0], $_->[0]) foreach @modes;

# pg_upgrade, 15 to 15: the stopped source's files into a new cluster
my $new = PostgreSQL::Test::Cluster->new('upgraded');
$new->init;
$new->append_conf('postgresql.conf', durable_conf());
my $bindir = $src->config_data('--bindir');
{
	my $cwd = PostgreSQL::Test::Utils::tempdir;
	chdir $cwd;
	command_ok(
		[
			'pg_upgrade', '--no-sync',
			'-d', $src->data_dir, '-D', $new->data_dir,
			'-b', $bindir, '-B', $bindir,
			'-s', $new->host, '-p', $src->port, '-P', $new->port, '--retain'
		],
		'pg_upgrade: the upgrade succeeds');
	# both servers ran with durable preloaded, in binary-upgrade mode, where
	# the library does nothing: no launcher, no engine
	my @logs = glob($new->data_dir . '/pg_upgrade_output.d/*/log/pg_upgrade_server.log');
	my $log = @logs ? slurp_file($logs[0]) : '';
	like($log, qr/database system is ready to accept connections/,
		'pg_upgrade: the servers of the upgrade logged their start');
	unlike($log, qr/durable (launcher|engine) started/,
		'pg_upgrade: no durable launcher or engine ran during the upgrade');
}
my $t0 = time();
$new->start;
after_restore($new, 'app', 'pg_upgrade', $t0);
drive_all($new, 'app');
check_finished($new, 'app', 'pg_upgrade');

note('seconds from the end of each restore to the overdue timer firing: '
	  . join(', ', map { "$_ $elapsed{$_}" } sort keys %elapsed));

$dst->stop;
$new->stop;
done_testing();
