# One engine worker per database that has the extension: engines come and
# go with CREATE/DROP EXTENSION, database-level DDL (DROP DATABASE, CREATE
# DATABASE ... TEMPLATE) is not blocked by them, and a standby runs none.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::RealBin;
use DurableTest;
use Time::HiRes qw(time);

my $node = durable_node('primary', init => { allows_streaming => 1 });

sub sql
{
	my ($db, $query) = @_;
	return $node->safe_psql($db, $query);
}

# poll durable.engine_workers (from a database that has the view)
sub engines_until
{
	my ($viewdb, $cond) = @_;
	return $node->poll_query_until($viewdb, "SELECT $cond FROM durable.engine_workers");
}

sub timer_fires
{
	my ($db, $wid) = @_;
	sql($db, "SELECT durable.start_workflow('TimerWorkflow', workflow_id => '$wid', task_queue => 'q')");
	my $tok = sql($db, "SELECT task_token FROM durable.poll_task('q', 'w1')");
	sql($db, qq{SELECT durable.complete_workflow_task('$tok', '[{"type": "start_timer", "timer_id": "t", "duration": "1 second"}]')});
	return $node->poll_query_until($db,
		"SELECT count(*) = 1 FROM durable.get_history('$wid') WHERE event_type = 'TimerFired'");
}

sql('postgres', 'CREATE DATABASE db1');
sql('postgres', 'CREATE DATABASE db2');
sql('db1', 'CREATE EXTENSION durable');
sql('db2', 'CREATE EXTENSION durable');

ok(engines_until('db1',
		"count(*) FILTER (WHERE datname IN ('db1', 'db2') AND state = 'active' AND pid IS NOT NULL) = 2"),
	'an active engine in db1 and in db2');
my %pid;
$pid{$_} = sql('db1', "SELECT pid FROM durable.engine_workers WHERE datname = '$_'") for qw(db1 db2);
isnt($pid{db1}, $pid{db2}, "different engine processes ($pid{db1}, $pid{db2})");
is(sql('db1', "SELECT datname FROM pg_stat_activity WHERE pid = $pid{db1}"), 'db1', 'db1\'s engine is connected to db1');
is(sql('db1', "SELECT datname FROM pg_stat_activity WHERE pid = $pid{db2}"), 'db2', 'db2\'s engine is connected to db2');
is(sql('db1', "SELECT state FROM durable.engine_workers WHERE datname = 'postgres'"), 'no extension',
	'no engine for a database without the extension');

ok(timer_fires('db1', 'wf1'), 'a timer fires in db1');
ok(timer_fires('db2', 'wf2'), 'a timer fires in db2');

# --- DROP / CREATE EXTENSION -------------------------------------------------

sql('db2', 'DROP EXTENSION durable CASCADE');
ok(engines_until('db1', "count(*) FILTER (WHERE datname = 'db2' AND state = 'no extension' AND pid IS NULL) = 1"),
	'DROP EXTENSION: db2\'s engine exits (no extension, no pid)');
is(sql('db1', "SELECT count(*) FROM pg_stat_activity WHERE pid = $pid{db2}"), '0', 'the process is gone');
is(sql('db1', "SELECT state FROM durable.engine_workers WHERE datname = 'db1'"), 'active', 'db1\'s engine is unaffected');

sql('db2', 'CREATE EXTENSION durable');
ok(engines_until('db1', "count(*) FILTER (WHERE datname = 'db2' AND state = 'active' AND pid IS NOT NULL) = 1"),
	'CREATE EXTENSION again: db2\'s engine is back');
ok(timer_fires('db2', 'wf2b'), 'and fires timers');

# --- CREATE DATABASE ... TEMPLATE a database with an engine -----------------

my $t0 = time();
my ($rc, $out, $err) = $node->psql('postgres', 'CREATE DATABASE db3 TEMPLATE db2');
is($rc, 0, 'CREATE DATABASE db3 TEMPLATE db2 succeeds while db2 has an engine');
is($err, '', '... without an error') or diag $err;
my $elapsed = time() - $t0;
cmp_ok($elapsed, '<', 10, "... in ${elapsed}s");
ok(engines_until('db1', "count(*) FILTER (WHERE datname IN ('db2', 'db3') AND state = 'active' AND pid IS NOT NULL) = 2"),
	'db2\'s engine resumes and db3 (a copy with the extension) gets its own');
is(sql('db3', "SELECT count(*) FROM durable.workflows WHERE workflow_id = 'wf2b' AND status = 'running'"), '1',
	'db3 has db2\'s data');

# --- DROP DATABASE with an engine connected ---------------------------------

$t0 = time();
($rc, $out, $err) = $node->psql('postgres', 'DROP DATABASE db1');
$elapsed = time() - $t0;
is($rc, 0, 'DROP DATABASE db1 succeeds while db1 has an engine');
is($err, '', '... without an error') or diag $err;
cmp_ok($elapsed, '<', 10, "... at once (${elapsed}s)");
ok(engines_until('db2', "count(*) FILTER (WHERE datname = 'db1' OR datid NOT IN (SELECT oid FROM pg_database)) = 0"),
	'db1\'s row disappears from durable.engine_workers');
is(sql('db2', "SELECT count(*) FROM pg_stat_activity WHERE pid = $pid{db1}"), '0', 'db1\'s engine is gone');
ok(engines_until('db2', "count(*) FILTER (WHERE datname IN ('db2', 'db3') AND state = 'active' AND pid IS NOT NULL) = 2"),
	'the other engines keep running');

# --- a standby runs no engine ------------------------------------------------

$node->backup('bk');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($node, 'bk', has_streaming => 1);
$standby->start;
sql('db2', "SELECT durable.start_workflow('TimerWorkflow', workflow_id => 'after_backup', task_queue => 'q')");
$node->wait_for_catchup($standby);
is($standby->safe_psql('db2', 'SELECT pg_is_in_recovery()'), 't', 'the standby is in recovery');
is($standby->safe_psql('db2', "SELECT count(*) FROM durable.workflows WHERE workflow_id = 'after_backup'"), '1',
	'the standby replays durable\'s tables');
is($standby->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type IN ('durable engine', 'durable launcher')"),
	'0', 'the standby runs no durable launcher or engine');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'durable launcher'"),
	'1', 'while the primary runs its launcher');

$standby->stop;
$node->stop;
done_testing();
