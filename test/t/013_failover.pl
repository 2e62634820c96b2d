# Failover without loss (issue 10, point 6): a primary with a synchronous
# streaming standby runs the load of test/t/DurableLoad.pm (pgbench workers
# and psql starters, all connected through one multi-host connection string
# with target_session_attrs=read-write).  The primary is killed with
# SIGKILL, the standby is promoted, and:
#   - durable's engine (launcher registered with BgWorkerStart_RecoveryFinished)
#     starts on the promoted standby;
#   - the workers and starters reconnect to it by themselves;
#   - every workflow acknowledged (by the old primary or the new one)
#     finishes, once, with contiguous history, no duplicate event, one effect
#     per completed activity, and amcheck clean.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

use FindBin;
use lib $FindBin::RealBin;
use DurableTest;
use DurableLoad;

my $t0 = time();

my $primary = PostgreSQL::Test::Cluster->new('fo_primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', durable_conf() . <<'CONF');
synchronous_commit = on
max_connections = 60
log_line_prefix = '%m [%p] %b '
CONF
$primary->start;
$primary->safe_psql('postgres', 'CREATE EXTENSION durable');
ok($primary->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM durable.engine_workers WHERE datname = 'postgres' AND state = 'active' AND pid IS NOT NULL"),
	'engine active on the primary');
app_setup($primary);

$primary->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('fo_standby');
$standby->init_from_backup($primary, 'b', has_streaming => 1);
$standby->start;
# synchronous from now on (set after the backup, so the standby does not inherit it)
$primary->safe_psql('postgres', "ALTER SYSTEM SET synchronous_standby_names = 'fo_standby'; SELECT pg_reload_conf()");
ok($primary->poll_query_until('postgres',
		"SELECT sync_state = 'sync' FROM pg_stat_replication WHERE application_name = 'fo_standby'"),
	'the standby streams synchronously');
is($standby->safe_psql('postgres', "SELECT count(*) FROM pg_stat_activity WHERE backend_type IN ('durable launcher', 'durable engine')"),
	'0', 'no launcher or engine runs on the standby (BgWorkerStart_RecoveryFinished)');

# one connection string for everyone: the primary, then the standby
my $host = $primary->host;
die 'the nodes do not share a socket directory' unless $standby->host eq $host;
my $conn = sprintf('host=%s,%s port=%d,%d dbname=postgres target_session_attrs=read-write connect_timeout=2',
	$host, $host, $primary->port, $standby->port);

my $dir = PostgreSQL::Test::Utils::tempdir('failover');
my $load = start_load(dir => $dir, conn => $conn, workers => 4, starters => 2, pause => 0.05, prefix => 'f');

ok($primary->poll_query_until('postgres', "SELECT count(*) >= 20 FROM durable.workflows WHERE status = 'completed'"),
	'the load runs on the primary');
sleep(4);

# a worker holds an activity and a workflow task claimed on the primary
# (claims are not WAL-logged: the tokens name the attempt, not the lease)
my $q = sub { return $primary->safe_psql('postgres', shift); };
$q->("SELECT durable.start_workflow('T', workflow_id => 'fo-act', task_queue => 'fotok')");
my $t = $q->("SELECT task_token FROM durable.poll_task('fotok', 'held', '{workflow}')");
$q->(qq{SELECT durable.complete_workflow_task('$t', '[{"type": "schedule_activity", "activity_id": "a", "activity_type": "A", "start_to_close_timeout": "1 hour"}]')});
my $held_act = $q->("SELECT task_token FROM durable.poll_task('fotok', 'held', '{activity}')");
$q->("SELECT durable.start_workflow('T', workflow_id => 'fo-wft', task_queue => 'fotok2', task_timeout => '1 hour')");
my $held_wft = $q->("SELECT task_token FROM durable.poll_task('fotok2', 'held', '{workflow}')");
like($held_act . ' ' . $held_wft, qr/^a:.* w:/, 'an activity and a workflow task are claimed on the primary');

# --- kill the primary, promote the standby -----------------------------------

my $at_kill = $primary->safe_psql('postgres',
	"SELECT count(*) || ' started, ' || count(*) FILTER (WHERE status = 'completed') || ' completed' FROM durable.workflows");
$primary->kill9;
my $t_kill = time();
$standby->promote;
my $t_promoted = time();
note(sprintf('primary killed (%s); standby promoted in %.1f s', $at_kill, $t_promoted - $t_kill));

my $engine_up = $standby->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM durable.engine_workers WHERE datname = 'postgres' AND state = 'active' AND pid IS NOT NULL");
ok($engine_up, 'the engine starts on the promoted standby');
if (!$engine_up)
{
	diag('engine_workers on the promoted standby: '
		  . $standby->safe_psql('postgres', 'SELECT * FROM durable.engine_workers'));
	diag('durable processes: ' . $standby->safe_psql('postgres',
		"SELECT string_agg(backend_type, ', ') FROM pg_stat_activity WHERE backend_type LIKE 'durable%'"));
}
note(sprintf('engine active %.1f s after the promotion', time() - $t_promoted));

my $before = $standby->safe_psql('postgres', "SELECT count(*) FROM durable.workflows WHERE status <> 'running'");
ok($standby->poll_query_until('postgres', "SELECT count(*) > $before + 20 FROM durable.workflows WHERE status <> 'running'"),
	'the workers reconnected to the new primary: workflows close there');
ok($standby->poll_query_until('postgres',
		"SELECT count(*) > 0 FROM durable.workflows WHERE start_time > now() - interval '2 seconds'"),
	'the starters reconnected: new workflows start there');
sleep(2);

# the tokens handed out by the old primary complete on the new one
is($standby->safe_psql('postgres', "BEGIN;
	INSERT INTO app.effects (run_id, activity_id, attempt) SELECT run_id, 'a', 1 FROM durable.workflows WHERE workflow_id = 'fo-act';
	SELECT durable.complete_activity('$held_act', '\"after failover\"') IS NULL;
	COMMIT;"), 't', 'an activity token of the old primary completes on the new one');
$t = $standby->safe_psql('postgres', "SELECT task_token FROM durable.poll_task('fotok', 'held', '{workflow}', '5 seconds')");
$standby->safe_psql('postgres', qq{SELECT durable.complete_workflow_task('$t', '[{"type": "complete_workflow"}]')});
is($standby->safe_psql('postgres', qq{SELECT durable.complete_workflow_task('$held_wft', '[{"type": "complete_workflow"}]') ->> 'outcome'}),
	'completed', 'so does a workflow-task token');
is($standby->safe_psql('postgres', "SELECT string_agg(event_type, ',' ORDER BY event_id) FROM durable.get_history('fo-act') WHERE event_type LIKE 'Activity%'"),
	'ActivityTaskScheduled,ActivityTaskStarted,ActivityTaskCompleted', 'the activity completed once');

stop_starters($load);
my $drained = wait_all_closed($standby, 60);
ok($drained, 'every open run closes on the new primary');
stop_load($load);

my $acked = acked_starts($load);
my $old = grep { $_ == $primary->port } values %$acked;
my $new = grep { $_ == $standby->port } values %$acked;
cmp_ok($old, '>=', 20, "$old starts acknowledged by the old primary");
cmp_ok($new, '>=', 1, "$new starts acknowledged by the new primary");
my $errors = load_errors($standby);
note('application errors: ' . join(', ', map { "$_ x$errors->{$_}" } sort keys %$errors));
is(join(', ', grep { !/^\S+ DU004 / } sort keys %$errors), '',
	'the workers saw no error but stale tokens (DU004)');

check_invariants($standby, $acked, 'failover', acked_starts($load, 'sig'));

note(sprintf('failover suite: %.1f s', time() - $t0));
$standby->stop;
done_testing();
