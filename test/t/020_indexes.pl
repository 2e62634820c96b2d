# Site indexes and registered search-attribute keys across pg_dump and
# pg_restore (docs/search-attributes.md): pg_dump leaves out indexes on the
# extension's tables, their records come back with the data, and
# durable.restore_site_indexes() makes them again, so the same queries use
# the same indexes.  Also the attempt log's rows and last_progress_time
# come back with the data.  (Temporal's search-attribute types:
# https://docs.temporal.io/search-attribute#supported-types)
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use DurableTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = durable_node('indexes');
my $dump = $node->basedir . '/durable.dump';

$node->safe_psql('postgres', q{
	CREATE EXTENSION durable;
	SELECT durable.register_search_attribute('CustomerId', 'Keyword');
	SELECT durable.register_search_attribute('Amount', 'Int');
	SELECT durable.create_site_index('workflows_by_memo_order',
		$$CREATE INDEX workflows_by_memo_order ON durable.workflows ((memo->>'order'))$$);
	SELECT durable.start_workflow('Order', NULL, 'o-' || i, 'q20',
		search_attributes => jsonb_build_object('CustomerId', 'c-' || i, 'Amount', i),
		memo => jsonb_build_object('order', i))
	FROM generate_series(1, 20) i;
});
# one activity attempt that failed and one that completed
$node->safe_psql('postgres', q{
	SELECT durable.complete_workflow_task(
		(SELECT task_token FROM durable.poll_task('q20', 'w1', '{workflow}')),
		'[{"type": "schedule_activity", "activity_id": "a1", "activity_type": "A",
		   "start_to_close_timeout": "1 minute", "retry_policy": {"initial_interval": "10 milliseconds"}}]');
	SELECT durable.fail_activity((SELECT task_token FROM durable.poll_task('q20', 'w1', '{activity}')),
		'{"message": "once"}');
});
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM durable.activities WHERE state = 'scheduled' AND attempt = 2"),
	'the activity is retried');
$node->safe_psql('postgres', q{
	SELECT durable.complete_activity((SELECT task_token FROM durable.poll_task('q20', 'w1', '{activity}')), '1');
});

my $plans = q{
	SET enable_seqscan = off;
	EXPLAIN (COSTS OFF) SELECT 1 FROM durable.workflows WHERE search_attributes->>'CustomerId' = 'c-3';
	EXPLAIN (COSTS OFF) SELECT 1 FROM durable.workflows WHERE durable.sa_int(search_attributes->'Amount') > 15;
	EXPLAIN (COSTS OFF) SELECT 1 FROM durable.workflows WHERE memo->>'order' = '7';
};
my $before = $node->safe_psql('postgres', $plans);
like($before, qr/workflows_sa_CustomerId.*workflows_sa_Amount.*workflows_by_memo_order/s,
	'before the dump, each query uses its index');

$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('postgres') ], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('restored'), $dump ], 'pg_restore');

is($node->safe_psql('restored', q{
	SELECT count(*) FROM pg_class WHERE relnamespace = 'durable'::regnamespace
	AND relname IN ('workflows_sa_CustomerId', 'workflows_sa_Amount', 'workflows_by_memo_order')}),
	'0', 'pg_restore brings back none of the three indexes');
is($node->safe_psql('restored',
		'SELECT count(*) FROM durable.site_indexes; SELECT count(*) FROM durable.search_attribute_keys'),
	"1\n2", 'their records come back with the data');
is($node->safe_psql('restored', 'SELECT string_agg(r, \',\' ORDER BY r) FROM durable.restore_site_indexes() r'),
	'workflows_by_memo_order,workflows_sa_Amount,workflows_sa_CustomerId',
	'restore_site_indexes makes the three again');
is($node->safe_psql('restored', 'SELECT count(*) FROM durable.restore_site_indexes()'),
	'0', 'and nothing the second time');
like($node->safe_psql('restored', $plans), qr/workflows_sa_CustomerId.*workflows_sa_Amount.*workflows_by_memo_order/s,
	'after the restore, each query uses its index again');
is($node->safe_psql('restored', q{
	SELECT string_agg(attempt || ' ' || outcome, ', ' ORDER BY attempt) FROM durable.activity_attempts}),
	'1 failed, 2 completed', 'the attempt log comes back with the data');
is($node->safe_psql('restored',
		'SELECT count(*) FROM durable.workflows WHERE last_progress_time IS NULL'),
	'0', 'and every run has its last progress time');
# the type checks hold in the restored database
my ($rc, $out, $err) = $node->psql('restored',
	q{SELECT durable.start_workflow('Order', NULL, 'o-bad', 'q20', search_attributes => '{"Amount": "many"}')});
like($err, qr/search attribute "Amount" must be of type Int/, 'a wrong type is refused after the restore');

$node->stop;
done_testing();
