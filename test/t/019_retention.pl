# Retention through a real pg_cron (issue 15 point 2): durable.setup_retention
# schedules durable.run_retention as a pg_cron job (background workers, so
# no password or host is needed); at its next minute the job purges, batch
# by batch, the closed runs older than their namespace's retention, with
# their history; running runs, young closed runs and namespaces without a
# retention keep theirs.  drop_retention removes the jobs.
# Temporal: a namespace's retention period is how long closed workflow
# executions are kept before they are deleted
# (https://docs.temporal.io/temporal-service/temporal-server#retention-period,
# https://docs.temporal.io/self-hosted-guide/namespaces).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::RealBin;
use DurableTest;

# pg_cron is a package of its own (Debian: postgresql-15-cron)
my $sharedir = PostgreSQL::Test::Cluster->new('probe')->config_data('--sharedir');
plan skip_all => 'pg_cron is not installed' unless -f "$sharedir/extension/pg_cron.control";

my $node = durable_node('retention', conf => <<'CONF');
shared_preload_libraries = 'pg_cron,durable'
cron.database_name = 'postgres'
cron.use_background_workers = on
max_worker_processes = 24
CONF

sub sql { return $node->safe_psql('postgres', shift); }

sql("CREATE EXTENSION durable");
sql("CREATE EXTENSION pg_cron");
ok(engine_active($node), 'engine worker active');

# closed runs: 12 "old" and one young in namespace default, one old in
# namespace other (retention 1 hour) and one old in namespace keep (none);
# one running run in default
sql(q{SELECT durable.create_namespace('other', '{"retention": "1 hour"}')});
sql(q{SELECT durable.create_namespace('keep')});
sql(q{
CREATE FUNCTION close_one(wid text, ns text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	tok text;
BEGIN
	PERFORM durable.start_workflow('Flow', '1', wid, 'q', namespace => ns);
	SELECT task_token INTO tok FROM durable.poll_task('q', 'w', '{workflow}', namespace => ns);
	PERFORM durable.complete_workflow_task(tok, '[{"type": "complete_workflow", "result": "done"}]');
END
$$});
sql("SELECT close_one('old-' || i, 'default') FROM generate_series(1, 12) i");
sql("SELECT close_one('young', 'default')");
sql("SELECT close_one('old-other', 'other')");
sql("SELECT close_one('old-keep', 'keep')");
sql("SELECT durable.start_workflow('Flow', '1', 'running', 'q')");
sql(q{UPDATE durable.workflows SET close_time = close_time - interval '2 days' WHERE workflow_id LIKE 'old-%'});
is(sql("SELECT count(*) FROM durable.history_batches WHERE workflow_id LIKE 'old-%'"), '28',
	'the old runs have their history');

# default keeps 1 day, purged 5 runs a batch by its own job; the job for
# every namespace covers other (its own retention), not keep
my $job = sql("SELECT durable.setup_retention('1 day', 'default', batch_size => 5)");
ok($job > 0, "job $job scheduled for namespace default");
is(sql("SELECT durable.setup_retention('1 day', 'default', batch_size => 5)"), $job,
	'set up again: the same job, replaced');
my $all = sql("SELECT durable.setup_retention(NULL)");
ok($all > 0, "job $all scheduled for every namespace with a retention");
is(sql("SELECT string_agg(jobname || ' ' || schedule || ' ' || database, ', ' ORDER BY jobname) FROM cron.job"),
	'durable-retention * * * * * postgres, durable-retention:default * * * * * postgres',
	'two pg_cron jobs, every minute, in this database');
is(sql("SELECT string_agg(name || ' ' || coalesce(retention::text, '-'), ', ' ORDER BY name) FROM durable.namespaces"),
	'default 1 day, keep -, other 01:00:00', 'retention set for default only');

# pg_cron starts both at the next minute
ok($node->poll_query_until('postgres',
	"SELECT count(*) = 2 FROM cron.job_run_details WHERE status IN ('succeeded', 'failed')", 't'),
	'both jobs ran');
is(sql("SELECT string_agg(status || ' ' || return_message, ', ') FROM cron.job_run_details"),
	'succeeded CALL, succeeded CALL', 'both succeeded');

is(sql("SELECT string_agg(namespace || ':' || workflow_id, ' ' ORDER BY namespace, workflow_id) FROM durable.workflows"),
	'default:running default:young keep:old-keep', 'old closed runs purged; running, young and kept ones stay');
is(sql("SELECT string_agg(DISTINCT workflow_id, ' ' ORDER BY workflow_id) FROM durable.history_batches"),
	'old-keep running young', 'their history went with them');

# the engine carries on: the running run still completes
sql(q{DO $$
DECLARE
	tok text;
BEGIN
	SELECT task_token INTO tok FROM durable.poll_task('q', 'w', '{workflow}');
	PERFORM durable.complete_workflow_task(tok, '[{"type": "complete_workflow"}]');
END
$$});
is(sql("SELECT status FROM durable.workflows WHERE workflow_id = 'running'"), 'completed',
	'a running run left alone completes');

# removal: each job once
is(sql("SELECT durable.drop_retention('default')"), 't', 'namespace job dropped');
is(sql("SELECT durable.drop_retention('default')"), 'f', 'a second drop finds none');
is(sql("SELECT durable.drop_retention()"), 't', 'every-namespace job dropped');
is(sql("SELECT count(*) FROM cron.job"), '0', 'no pg_cron job left');
is(sql("SELECT retention FROM durable.namespaces WHERE name = 'default'"), '1 day',
	'the namespace keeps its retention setting');

# an error of the SQL the C functions run (alter_namespace, pg_cron) reaches
# psql as the called function's own: no CONTEXT naming durable's internals
# (issue 13, docs/sql-api.md "Error codes"); nothing is scheduled
my ($rc, $out, $err) = $node->psql('postgres',
	"\\set VERBOSITY default\nSELECT durable.setup_retention('30 days', 'nope')");
like($err, qr/ERROR:  namespace "nope" does not exist\nHINT:  [^\n]+\n?\z/, 'unknown namespace: message and hint only');
($rc, $out, $err) = $node->psql('postgres',
	"\\set VERBOSITY default\nSELECT durable.setup_retention('30 days', 'default', 'every tuesday')");
like($err, qr/ERROR:  invalid schedule: every tuesday/, "pg_cron's error for a bad schedule");
unlike($err, qr/CONTEXT/, 'with no CONTEXT');
is(sql("SELECT count(*) FROM cron.job"), '0', 'and no job');

$node->stop;
done_testing();
