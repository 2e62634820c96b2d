# The Prometheus exporter: a real postgres_exporter (Debian's
# prometheus-postgres-exporter) with contrib/prometheus/durable-queries.yaml,
# scraped over HTTP after workflows ran by SQL, turns durable's metric views
# into Prometheus metrics with the names, types, labels and values
# docs/metrics.md gives.
#
# Names follow Temporal's server metrics where one exists:
# https://docs.temporal.io/references/cluster-metrics (workflow_success,
# workflow_terminate, poll_success, task_schedule_to_start_latency,
# approximate_backlog_count), and the server's definitions in
# temporalio/temporal common/metrics/metric_defs.go.
#
# Run by the `exporter` suite of test/run-all; skipped when no exporter is
# installed.
use strict;
use warnings;

use HTTP::Tiny;
use JSON::PP;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib "$FindBin::RealBin/../t";
use DurableTest;

my ($exporter) = grep { -x $_ } map { ("$_/prometheus-postgres-exporter", "$_/postgres_exporter") }
  split(/:/, $ENV{PATH} // ''), '/usr/bin';
plan skip_all => 'no postgres_exporter (apt-get install prometheus-postgres-exporter)' unless $exporter;

my $queries = "$FindBin::RealBin/../../contrib/prometheus/durable-queries.yaml";
ok(-r $queries, 'the queries file is there');

my $node = durable_node('exporter');

sub sql { return $node->safe_psql('postgres', shift); }

sql('CREATE EXTENSION durable');

# the exporter's role: durable_client, so it sees namespace default only
sql('CREATE ROLE metrics_reader LOGIN IN ROLE durable_client');
sql(q{SELECT durable.create_namespace('hidden')});

# Claim a task of the queue and kind; returns its token.
sub poll
{
	my ($queue, $kind, $ns) = @_;
	$ns //= 'default';
	return sql("SELECT task_token FROM durable.poll_task('$queue', 'w1', '{$kind}', namespace => '$ns')");
}

# one activity, then the close: the chain of a small workflow, by SQL
sub run_one
{
	my ($wid, $ns) = @_;
	$ns //= 'default';
	sql("SELECT durable.start_workflow('ExWf', '{}', '$wid', 'exq', namespace => '$ns')");
	my $t = poll('exq', 'workflow', $ns);
	sql(qq{SELECT durable.complete_workflow_task('$t', '[{"type": "schedule_activity", "activity_id": "a",
		"activity_type": "Step", "start_to_close_timeout": "1 minute"}]')});
	$t = poll('exq', 'activity', $ns);
	sql("SELECT durable.complete_activity('$t', '1')");
	$t = poll('exq', 'workflow', $ns);
	sql(qq{SELECT durable.complete_workflow_task('$t', '[{"type": "complete_workflow", "result": 1}]')});
}

run_one('ex-1');
run_one('ex-2');
run_one('ex-hidden', 'hidden');

# one terminated
sql(q{SELECT durable.start_workflow('ExWf', '{}', 'ex-3', 'exq')});
sql(q{SELECT durable.terminate_workflow('ex-3', 'enough')});

# one left running: a timer fires (the engine), then its workflow task waits
sql(q{SELECT durable.start_workflow('ExWf', '{}', 'ex-4', 'exq')});
my $t = poll('exq', 'workflow');
sql(qq{SELECT durable.complete_workflow_task('$t', '[{"type": "start_timer", "timer_id": "t",
	"duration": "100 milliseconds"}]')});
ok( $node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM durable.get_history('ex-4') WHERE event_type = 'TimerFired'}),
	'the timer fired');

# a schedule (far-future spec) triggered once and then with a run going: one
# action, one skipped by its overlap policy (Temporal's schedule_action_success)
sql(q{SELECT durable.create_schedule('exs', '{"cron": ["0 3 * * *"], "start_at": "2090-01-01T00:00:00Z"}',
	'{"workflow_type": "Report", "task_queue": "exs"}', '{"overlap": "skip"}')});
sql(q{SELECT durable.trigger_schedule('exs')});
sql(q{SELECT durable.trigger_schedule('exs')});

# what the exporter must show, from the tables
my $events = sql(q{SELECT sum(history_length) FROM durable.workflows WHERE namespace = 'default' AND task_queue = 'exq'});

# the exporter, on a free port
my $port = PostgreSQL::Test::Cluster::get_free_port();
my $dsn = sprintf('host=%s port=%d dbname=postgres user=metrics_reader sslmode=disable', $node->host, $node->port);
my ($out, $err) = ('', '');
local $ENV{DATA_SOURCE_NAME} = $dsn;
my $h = IPC::Run::start(
	[ $exporter, "--extend.query-path=$queries", '--disable-default-metrics', '--disable-settings-metrics',
	  "--web.listen-address=127.0.0.1:$port" ],
	'>', \$out, '2>', \$err);

# scrape until the exporter reached the database
my $http = HTTP::Tiny->new(timeout => 10);
my $body = '';
foreach my $i (1 .. 100)
{
	my $r = $http->get("http://127.0.0.1:$port/metrics");
	$body = $r->{content} if $r->{success};
	last if $body =~ /^pg_up\S* 1$/m && $body =~ /^durable_/m;
	sleep 0.2;
}
like($body, qr/^pg_up\S* 1$/m, 'the exporter reached the database');
like($body, qr/^pg_exporter_user_queries_load_error\{[^}]*\} 0$/m, 'the queries file loaded');
unlike($body, qr/^pg_exporter_last_scrape_error 1$/m, 'no query failed');

# name -> list of [labels hash, value]
my %m;
foreach my $line (split /\n/, $body)
{
	next unless $line =~ /^(durable_\w+)(?:\{([^}]*)\})? (\S+)$/;
	my ($name, $labels, $value) = ($1, $2 // '', $3);
	my %l = $labels =~ /(\w+)="((?:[^"\\]|\\.)*)"/g;
	push @{ $m{$name} }, [ \%l, $value ];
}

# The value of the series of name whose labels include %want (undef: none; dies if several).
sub value
{
	my ($name, %want) = @_;
	my @hits = grep {
		my $l = $_->[0];
		!grep { ($l->{$_} // "\0") ne $want{$_} } keys %want
	} @{ $m{$name} // [] };
	die "several series of $name match" if @hits > 1;
	return @hits ? $hits[0][1] : undef;
}

my %q = (datname => 'postgres', namespace => 'default', task_queue => 'exq');

is(value('durable_workflow_started_total', %q), 4, 'workflows started');
is(value('durable_workflow_success_total', %q), 2, 'workflows completed (Temporal workflow_success)');
is(value('durable_workflow_terminate_total', %q), 1, 'workflows terminated (workflow_terminate)');
is(value('durable_workflow_failed_total', %q), 0, 'no workflow failed');
is(value('durable_poll_success_total', %q, kind => 'workflow'), 5, 'workflow tasks polled (poll_success)');
is(value('durable_poll_success_total', %q, kind => 'activity'), 2, 'activity tasks polled');
is(value('durable_eager_dispatch_total', %q, kind => 'activity'), 0, 'none eager');
is(value('durable_history_events_written_total', %q), $events, "history events written ($events)");
is(value('durable_activity_timeout_total', %q, timeout_type => 'START_TO_CLOSE'), 0, 'timeouts by type');
is(value('durable_schedule_action_success_total', %q, task_queue => 'exs'), 1,
	'schedule actions (schedule_action_success)');
is(value('durable_schedule_action_skipped_total', %q, task_queue => 'exs'), 1, 'actions the overlap policy skipped');
is(value('durable_schedule_missed_catchup_window_total', %q, task_queue => 'exs'), 0, 'none missed');
is(value('durable_schedule_action_errors_total', %q, task_queue => 'exs'), 0, 'none dropped');

# gauges, computed when scraped
is(value('durable_approximate_backlog_count', %q, kind => 'workflow'), 1, 'the waiting workflow task');
is(value('durable_approximate_backlog_count', %q, kind => 'activity'), 0, 'no activity waits');
ok(value('durable_approximate_backlog_age_seconds', %q, kind => 'workflow') > 0, 'its age');
is(value('durable_workflows_running', datname => 'postgres', namespace => 'default', workflow_type => 'ExWf'),
	1, 'running workflows by type');

# histograms
is(value('durable_task_schedule_to_start_seconds_count', %q, kind => 'activity'), 2,
	'schedule-to-start observations (task_schedule_to_start_latency)');
is(value('durable_task_schedule_to_start_seconds_bucket', %q, kind => 'activity', le => '+Inf'), 2, '+Inf bucket');
is(value('durable_task_schedule_to_start_seconds_bucket', %q, kind => 'workflow', le => '60'), 5,
	'every workflow task started within 60 s');
is(scalar(grep { $_->[0]{kind} eq 'workflow' } @{ $m{durable_task_schedule_to_start_seconds_bucket} }), 16,
	'15 buckets and +Inf');
is(value('durable_task_execution_seconds_count', %q, kind => 'workflow'), 5, 'workflow task executions');
is(value('durable_timer_lateness_seconds_count', %q), 1, 'one timer fired');
ok(value('durable_timer_lateness_seconds_sum', %q) < 60, 'its lateness');
like($body, qr/^# TYPE durable_task_schedule_to_start_seconds histogram$/m, 'a histogram');
like($body, qr/^# TYPE durable_workflow_success_total counter$/m, 'a counter');
like($body, qr/^# TYPE durable_approximate_backlog_count gauge$/m, 'a gauge');

# the Grafana dashboard is JSON whose queries name only metrics the exporter produced
my $dash_file = "$FindBin::RealBin/../../contrib/grafana/durable.json";
my $dash = JSON::PP::decode_json(PostgreSQL::Test::Utils::slurp_file($dash_file));
my @exprs = map { $_->{expr} } map { @{ $_->{targets} // [] } } @{ $dash->{panels} };
ok(@exprs >= 10, 'the dashboard has its queries');
my %used = map { $_ => 1 } map { /\b(durable_\w+)/g } @exprs;
# a name, or a histogram's series (name_bucket, _sum, _count)
my @missing = grep {
	my $base = s/_(bucket|sum|count)$//r;
	$body !~ /^# TYPE \Q$_\E /m && $body !~ /^# TYPE \Q$base\E histogram$/m
} sort keys %used;
is("@missing", '', 'every metric of the dashboard is exported');

# the role sees no other namespace
ok(!grep({ $_->[0]{namespace} eq 'hidden' } map { @$_ } values %m), 'namespace hidden is not shown');
# ... which the superuser's view has
is(sql(q{SELECT value FROM durable.metrics WHERE metric = 'durable_workflow_success_total'
	AND labels = '{"namespace": "hidden", "task_queue": "exq"}'}), 1, 'the superuser sees it');

$h->kill_kill;
$h->finish;
$node->stop;
done_testing();
