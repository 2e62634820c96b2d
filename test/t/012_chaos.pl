# Chaos (issue 10, point 7): fifteen server kills under load, then the
# invariants.
#
# Load (test/t/DurableLoad.pm): pgbench clients work as workers (claim in
# one transaction, complete in another; each activity writes its effect row
# in the same transaction as complete_activity), two psql starters start
# workflows and log each acknowledged start.  The kills rotate through
#   - pg_ctl stop -m immediate, then start
#   - kill -9 of the postmaster, then start once its children are gone
#   - kill -9 of the engine background worker (the postmaster crash-restarts)
#   - kill -9 of a backend of a worker (ditto)
#   - kill -9 of durable's launcher (ditto)
# and between them, faults that do not restart the server: SIGTERM of the
# engine (the launcher restarts it) and pg_terminate_backend of a worker's
# backend (its claimed task waits for its lease).  After the last kill the
# starters stop and the workers drain every open run; then:
#   - no acknowledged workflow lost or duplicated, every one completed;
#   - every acknowledged signal delivered, none twice (each is sent twice
#     with one request id);
#   - every run's history contiguous (event ids 1..n, no gap or duplicate);
#   - exactly one app row per completed activity, none for another;
#   - amcheck clean on every btree index of durable.
# Deterministic schedule (a fixed seed); about 80 s.
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
my $node = durable_node('chaos', conf => <<'CONF');
restart_after_crash = on
max_connections = 60
log_line_prefix = '%m [%p] %b '
CONF

sub sql { return $node->safe_psql('postgres', shift); }

sql('CREATE EXTENSION durable');
ok(engine_active($node), 'engine worker active');
app_setup($node);

my $dir = PostgreSQL::Test::Utils::tempdir('chaos');
my $load = start_load(dir => $dir, conn => $node->connstr('postgres'), workers => 4,
	starters => 2, pause => 0.05, prefix => 'c');

# Deterministic pseudo-random numbers (a 32-bit xorshift, fixed seed).
my $seed = 1010;
sub rnd
{
	my $n = shift;
	$seed ^= ($seed << 13) & 0xffffffff;
	$seed ^= $seed >> 17;
	$seed ^= ($seed << 5) & 0xffffffff;
	return $seed % $n;
}

sub closed_count { return sql("SELECT count(*) FROM durable.workflows WHERE status <> 'running'"); }

# Wait until the server answers and the engine is active again.
sub recovered
{
	my $old_engine = shift;
	return engine_active($node, $old_engine);
}

my @kinds = ('immediate', 'kill9 postmaster', 'kill9 engine', 'kill9 backend', 'kill9 launcher');
my $kills = 0;
my @log;
ok($node->poll_query_until('postgres', "SELECT count(*) > 0 FROM durable.workflows WHERE status = 'completed'"),
	'the load is running: workflows complete');

foreach my $cycle (1 .. 15)
{
	# let the load run 2.5 to 4.5 s
	usleep(2_500_000 + 100_000 * rnd(21));
	my $kind = $kinds[ ($cycle - 1) % @kinds ];
	my $before = closed_count();
	my $engine = engine_pid($node);
	my $t = time();
	if ($kind eq 'immediate')
	{
		$node->stop('immediate');
		$node->start;
	}
	elsif ($kind eq 'kill9 postmaster')
	{
		my $pm = $node->{_pid};
		$node->kill9;
		my $name = $node->name;
		# wait for the postmaster and its orphaned children to be gone
		for (1 .. 200)
		{
			last if !kill(0, $pm) && system("pgrep -f '^postgres: $name:' >/dev/null") != 0;
			usleep(50_000);
		}
		$node->start;
	}
	elsif ($kind eq 'kill9 engine')
	{
		kill 'KILL', $engine;
	}
	elsif ($kind eq 'kill9 launcher')
	{
		my $pid = sql("SELECT pid FROM pg_stat_activity WHERE backend_type = 'durable launcher'");
		kill 'KILL', ($pid eq '' ? $engine : $pid);
	}
	else
	{
		my $pid = sql("SELECT pid FROM pg_stat_activity WHERE application_name = 'pgbench' ORDER BY pid LIMIT 1 OFFSET "
			  . rnd(3));
		$pid = sql("SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() LIMIT 1")
		  if $pid eq '';
		$pid = $engine if $pid eq '';    # no client connected at this instant
		kill 'KILL', $pid;
	}
	$kills++;
	my $ok = recovered($engine);
	ok($ok, "kill $cycle ($kind): the server and the engine are back");
	push @log, sprintf('kill %2d %-17s closed before %5d, back in %.1f s', $cycle, $kind, $before, time() - $t);

	# faults that do not restart the server
	if ($cycle == 3 || $cycle == 9)
	{
		my $e = engine_pid($node);
		kill 'TERM', $e;
		ok(engine_active($node, $e), "cycle $cycle: SIGTERM of the engine: the launcher starts a new one");
	}
	if ($cycle == 6 || $cycle == 10)
	{
		usleep(1_000_000);
		sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgbench'");
		push @log, "cycle $cycle: pg_terminate_backend of every pgbench backend";
	}
}
note($_) foreach @log;
cmp_ok($kills, '>=', 10, "$kills server kills under load");

# make sure work goes on after the last kill
my $closed_after_kills = closed_count();
ok($node->poll_query_until('postgres', "SELECT count(*) > $closed_after_kills FROM durable.workflows WHERE status <> 'running'"),
	'workflows close after the last kill');

stop_starters($load);
my $drained = wait_all_closed($node, 90);
ok($drained, 'the workers drain every open run');
stop_load($load);
diag(sql("SELECT status, count(*) FROM durable.workflows GROUP BY 1")) unless $drained;

my $acked = acked_starts($load);
cmp_ok(scalar(keys %$acked), '>=', 200, scalar(keys %$acked) . ' starts acknowledged');
my $errors = load_errors($node);
note("application errors: " . join(', ', map { "$_ x$errors->{$_}" } sort keys %$errors));
is(join(', ', grep { !/^\S+ DU004 / } sort keys %$errors), '',
	'the workers saw no error but stale tokens (DU004, after a timeout)');

check_invariants($node, $acked, 'chaos', acked_starts($load, 'sig'));

my $log = slurp_file($node->logfile);
my @panics = $log =~ /^.*(?:PANIC|terminated by signal (?!9)\d+|TRAP:).*$/mg;
is(scalar(@panics), 0, 'no PANIC, assertion or crash other than the kills') or diag(join("\n", @panics[0 .. ($#panics < 5 ? $#panics : 5)]));

note(sprintf('chaos suite: %.1f s', time() - $t0));
$node->stop;
done_testing();
