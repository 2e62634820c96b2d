# The upgrade path: a database created at 0.1 (the released install script)
# and updated with ALTER EXTENSION ends with the same objects as a fresh
# install, and a workflow in flight across the update finishes, its
# 0.1-scheduled activity completed through 0.2's eager dispatch.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use DurableTest;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = durable_node('upgrade');

$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('postgres', 'CREATE DATABASE old');
$node->safe_psql('fresh', 'CREATE EXTENSION durable');
$node->safe_psql('old', "CREATE EXTENSION durable VERSION '0.1'");
is($node->safe_psql('old', "SELECT extversion FROM pg_extension WHERE extname = 'durable'"),
	'0.1', 'the released 0.1 install script still installs');
ok($node->poll_query_until('old',
		"SELECT count(*) = 1 FROM durable.engine_workers WHERE datname = 'old' AND state = 'active'"),
	'the engine runs on 0.1');

# under 0.1: start a workflow, schedule an activity, claim it
my $atok = $node->safe_psql('old', q{
	SELECT durable.start_workflow('Up', '{"x": 1}', 'up-1', 'upq');
	SELECT durable.complete_workflow_task(
		(SELECT task_token FROM durable.poll_task('upq', 'w-old', '{workflow}')),
		'[{"type": "schedule_activity", "activity_id": "a1", "activity_type": "A",
		   "start_to_close_timeout": "1 minute"}]');
	SELECT task_token FROM durable.poll_task('upq', 'w-old', '{activity}');
});
$atok = (split /\n/, $atok)[-1];
like($atok, qr/^a:/, 'an activity is running under 0.1');

$node->safe_psql('old', "ALTER EXTENSION durable UPDATE TO '0.2'");
is($node->safe_psql('old', "SELECT extversion FROM pg_extension WHERE extname = 'durable'"),
	'0.2', 'ALTER EXTENSION durable UPDATE reaches 0.2');

# the same objects, definitions, comments and privileges as a fresh install
my $catalog = q{
	SELECT string_agg(x, E'\n' ORDER BY x) FROM (
		SELECT format('function %s: %s %s %s', p.oid::regprocedure, md5(pg_get_functiondef(p.oid)),
					  coalesce(obj_description(p.oid, 'pg_proc'), '-'), coalesce(p.proacl::text, '-')) AS x
		FROM pg_proc p WHERE p.pronamespace = 'durable'::regnamespace AND p.prokind <> 'a'
		UNION ALL
		SELECT format('relation %s %s: %s %s', c.relname, c.relkind, coalesce(c.relacl::text, '-'),
					  coalesce(obj_description(c.oid, 'pg_class'), '-'))
		FROM pg_class c WHERE c.relnamespace = 'durable'::regnamespace
		UNION ALL
		SELECT format('column %s.%s %s %s', c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
					  coalesce(col_description(c.oid, a.attnum), '-'))
		FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
		WHERE c.relnamespace = 'durable'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
		UNION ALL
		SELECT format('constraint %s %s', conname, pg_get_constraintdef(oid))
		FROM pg_constraint WHERE connamespace = 'durable'::regnamespace
	) s
};
my $fresh = $node->safe_psql('fresh', $catalog);
my $updated = $node->safe_psql('old', $catalog);
ok(length($fresh) > 1000, 'the catalog listing is not empty');
is($updated, $fresh, 'an updated database has exactly the objects of a fresh install');

# the in-flight workflow finishes under 0.2, eagerly
my $res = $node->safe_psql('old',
	"SELECT durable.complete_activity('$atok', '\"done\"', return_workflow_task => true)");
like($res, qr/"kind": ?"workflow"/, 'completing the 0.1 activity hands over the workflow task');
my $wtok = $node->safe_psql('old', qq{SELECT '$res'::jsonb->'tasks'->0->>'task_token'});
is($node->safe_psql('old', qq{
	SELECT durable.complete_workflow_task('$wtok', '[{"type": "complete_workflow", "result": 7}]') ->> 'outcome';
	SELECT durable.workflow_result('up-1');
	SELECT string_agg(event_id || ' ' || event_type, ', ' ORDER BY event_id) FROM durable.get_history('up-1');
}), "completed\n7\n" . join(', ',
	'1 WorkflowExecutionStarted', '2 WorkflowTaskScheduled', '3 WorkflowTaskStarted', '4 WorkflowTaskCompleted',
	'5 ActivityTaskScheduled', '6 ActivityTaskStarted', '7 ActivityTaskCompleted', '8 WorkflowTaskScheduled',
	'9 WorkflowTaskStarted', '10 WorkflowTaskCompleted', '11 WorkflowExecutionCompleted'),
	'the workflow started under 0.1 completes under 0.2 with a contiguous history');

# and new workflows run on the updated database
is($node->safe_psql('old', q{
	SELECT durable.start_workflow('Up', NULL, 'up-2', 'upq') IS NOT NULL;
	SELECT durable.complete_workflow_task(
		(SELECT task_token FROM durable.poll_task('upq', 'w-new', '{workflow}')),
		'[{"type": "complete_workflow"}]') ->> 'outcome';
}), "t\ncompleted", 'new workflows run after the update');

$node->stop;
done_testing();
