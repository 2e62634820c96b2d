# A worker written from docs/protocol.md alone, in a language with no SDK:
# test/conformance/minimal_worker.pl (core Perl) replays every conformance
# fixture offline, then plays every fixture live against a real engine
# through psql (start, signals, cancels, failed and timed-out tasks as the
# fixture's history shows), acting as the worker until the run closes.  Each
# fixture must pass both ways: the same commands (or NonDeterminismError at
# the same event) as "expect", the engine's answers, the fixture's event
# types, and the close.
# Temporal: replay rebuilds the workflow's state from its event history and a
# command that does not match the history is a non-determinism error
# (https://docs.temporal.io/encyclopedia/event-history/event-history-go,
# "How History Replay Provides Durable Execution").
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::RealBin;
use DurableTest;

my $dir = "$FindBin::RealBin/../conformance";
my @fixtures = sort glob("$dir/*.json");
my @names = map { m{([^/]+)\.json$} } @fixtures;
cmp_ok(scalar @fixtures, '>=', 21, 'the conformance fixtures are there');

# Run the worker; returns its "ok N - name" results by name, its summary
# line and its exit status.
sub run_worker
{
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run([ $^X, "$dir/minimal_worker.pl", @_, @fixtures ],
		'>', \$out, '2>', \$err,
		IPC::Run::timeout(10 * $PostgreSQL::Test::Utils::timeout_default));
	diag($err) if $err ne '';
	my %res = map { /^(not ok|ok) \d+ - ([^:]+)(?::\s*(.*))?$/ ? ($2 => [ $1, $3 // '' ]) : () }
	  split /\n/, $out;
	my ($summary) = $out =~ /^(\d+ passed, \d+ failed)$/m;
	return (\%res, $summary // '(no summary)', $ok);
}

sub check
{
	my ($mode, $res, $summary, $ok) = @_;
	for my $name (@names)
	{
		my $r = $res->{$name} // [ 'missing', 'no line for it' ];
		is($r->[0], 'ok', "$mode: $name") or diag($r->[1]);
	}
	is($summary, scalar(@names) . ' passed, 0 failed', "$mode: summary");
	ok($ok, "$mode: exit status 0");
}

# --- offline: no database ----------------------------------------------------

check('offline', run_worker());

# A wrong expectation is reported, and the exit status says so.
my $bad = PostgreSQL::Test::Utils::tempdir() . '/timer-fired.json';
{
	open my $in, '<', "$dir/timer-fired.json" or die $!;
	local $/;
	my $text = <$in>;
	$text =~ s/"result": "done"/"result": "not done"/ or die 'timer-fired.json has no result "done"';
	open my $out, '>', $bad or die $!;
	print $out $text;
	close $out;
}
{
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run([ $^X, "$dir/minimal_worker.pl", $bad ], '>', \$out, '2>', \$err);
	ok(!$ok, 'a wrong expectation: exit status not 0');
	like($out, qr/^not ok 1 - timer-fired: commands .*"not done"/m, 'a wrong expectation: reported');
}

# --- live: against a real engine ---------------------------------------------

my $node = durable_node('perl_worker');
$node->safe_psql('postgres', 'CREATE EXTENSION durable');
ok(engine_active($node), 'engine worker active');

check('live', run_worker('--live', $node->connstr('postgres')));

# Nothing is left running: the non-determinism runs were terminated, the
# others closed.
is($node->safe_psql('postgres',
		"SELECT count(*) FROM durable.workflows WHERE workflow_id LIKE 'plw-%' AND status = 'running'"),
	'0', 'live: no run left running');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM durable.workflows WHERE workflow_id LIKE 'plw-nondeterminism-%' AND status = 'terminated'"),
	'3', 'live: the three non-determinism runs failed their task and were terminated');

$node->stop;
done_testing();
