# The upgrade path: a database created at 0.1 (the released install script)
# and updated through every released version ends with exactly the objects
# of a fresh install, and workflows in flight across the updates finish:
# an activity claimed under 0.1, and under 0.2 a pending timer, an
# activity out, and a signal buffered behind a running workflow task.
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

# under 0.2: a timer pending, an activity out, a signal buffered
my $timer_due = $node->safe_psql('old', q{
	SELECT durable.start_workflow('Up', NULL, 'up-timer', 'upq');
	SELECT durable.complete_workflow_task(
		(SELECT task_token FROM durable.poll_task('upq', 'w-02', '{workflow}')),
		'[{"type": "start_timer", "timer_id": "t1", "duration": "4 seconds"}]') ->> 'outcome';
	SELECT fire_time > now() FROM durable.timers t JOIN durable.workflows w USING (run_id)
	WHERE w.workflow_id = 'up-timer' AND t.kind = 'user';
});
is((split /\n/, $timer_due)[-1], 't', 'a timer is pending under 0.2');
my $atok2 = $node->safe_psql('old', q{
	SELECT durable.start_workflow('Up', NULL, 'up-act', 'upq2');
	SELECT durable.complete_workflow_task(
		(SELECT task_token FROM durable.poll_task('upq2', 'w-02', '{workflow}')),
		'[{"type": "schedule_activity", "activity_id": "a1", "activity_type": "A",
		   "start_to_close_timeout": "1 minute"}]') ->> 'outcome';
	SELECT task_token FROM durable.poll_task('upq2', 'w-02', '{activity}');
});
$atok2 = (split /\n/, $atok2)[-1];
like($atok2, qr/^a:/, 'an activity is out under 0.2');
my $wtok3 = $node->safe_psql('old', q{
	SELECT durable.start_workflow('Up', NULL, 'up-sig', 'upq3');
	SELECT task_token FROM durable.poll_task('upq3', 'w-02', '{workflow}');
});
$wtok3 = (split /\n/, $wtok3)[-1];
$node->safe_psql('old', q{SELECT durable.signal_workflow('up-sig', 'go', '{"n": 1}')});
is($node->safe_psql('old', q{
	SELECT count(*) FROM durable.buffered_events b JOIN durable.workflows w USING (run_id)
	WHERE w.workflow_id = 'up-sig'}), '1', 'a signal is buffered behind a running workflow task under 0.2');

$node->safe_psql('old', 'ALTER EXTENSION durable UPDATE');
is($node->safe_psql('old',
		"SELECT e.extversion = a.default_version FROM pg_extension e, pg_available_extensions a
		 WHERE e.extname = 'durable' AND a.name = 'durable'"),
	't', 'ALTER EXTENSION durable UPDATE reaches the current version');

# the same objects, definitions, comments and privileges as a fresh install
my $catalog = q{
	SELECT string_agg(x, E'\n' ORDER BY x) FROM (
		SELECT format('function %s: %s %s %s', p.oid::regprocedure, md5(pg_get_functiondef(p.oid)),
					  coalesce(obj_description(p.oid, 'pg_proc'), '-'), coalesce(p.proacl::text, '-')) AS x
		FROM pg_proc p WHERE p.pronamespace = 'durable'::regnamespace AND p.prokind <> 'a'
		UNION ALL
		SELECT format('relation %s %s %s: %s %s', c.relname, c.relkind, c.relpersistence,
					  coalesce(c.relacl::text, '-'), coalesce(obj_description(c.oid, 'pg_class'), '-'))
		FROM pg_class c WHERE c.relnamespace = 'durable'::regnamespace
		UNION ALL
		SELECT format('index %s', pg_get_indexdef(i.indexrelid))
		FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		WHERE c.relnamespace = 'durable'::regnamespace
		UNION ALL
		SELECT format('column %s.%s %s %s %s %s %s', c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
					  a.attnotnull, a.attidentity, coalesce(pg_get_expr(d.adbin, d.adrelid), '-'),
					  coalesce(col_description(c.oid, a.attnum), '-'))
		FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
		LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
		WHERE c.relnamespace = 'durable'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
		UNION ALL
		SELECT format('constraint %s %s', conname, pg_get_constraintdef(oid))
		FROM pg_constraint WHERE connamespace = 'durable'::regnamespace
		UNION ALL
		SELECT format('trigger %s', pg_get_triggerdef(t.oid))
		FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
		WHERE c.relnamespace = 'durable'::regnamespace AND NOT t.tgisinternal
		UNION ALL
		SELECT format('view %s: %s', c.relname, md5(pg_get_viewdef(c.oid)))
		FROM pg_class c WHERE c.relnamespace = 'durable'::regnamespace AND c.relkind = 'v'
		UNION ALL
		SELECT format('dumped with the extension: %s', cfg::regclass)
		FROM pg_extension e, unnest(e.extconfig) AS cfg WHERE e.extname = 'durable'
		UNION ALL
		SELECT format('sequence %s', c.relname)
		FROM pg_class c WHERE c.relnamespace = 'durable'::regnamespace AND c.relkind = 'S'
	) s
};
my $fresh = $node->safe_psql('fresh', $catalog);
my $updated = $node->safe_psql('old', $catalog);
ok(length($fresh) > 1000, 'the catalog listing is not empty');
is($updated, $fresh, 'an updated database has exactly the objects of a fresh install');

# the workflow started under 0.1 finishes, eagerly
my $res = $node->safe_psql('old',
	"SELECT durable.complete_activity('$atok', '\"done\"', return_workflow_task => true)");
like($res, qr/"kind": ?"workflow"/, 'completing the 0.1 activity hands over the workflow task');
my $wtok = $node->safe_psql('old', qq{SELECT '$res'::jsonb->'tasks'->0->>'task_token'});
my $events_11 = join(', ',
	'1 WorkflowExecutionStarted', '2 WorkflowTaskScheduled', '3 WorkflowTaskStarted', '4 WorkflowTaskCompleted',
	'5 ActivityTaskScheduled', '6 ActivityTaskStarted', '7 ActivityTaskCompleted', '8 WorkflowTaskScheduled',
	'9 WorkflowTaskStarted', '10 WorkflowTaskCompleted', '11 WorkflowExecutionCompleted');
is($node->safe_psql('old', qq{
	SELECT durable.complete_workflow_task('$wtok', '[{"type": "complete_workflow", "result": 7}]') ->> 'outcome';
	SELECT durable.workflow_result('up-1');
	SELECT string_agg(event_id || ' ' || event_type, ', ' ORDER BY event_id) FROM durable.get_history('up-1');
}), "completed\n7\n$events_11",
	'the workflow started under 0.1 completes with a contiguous history');

# the 0.2 activity completes, and its workflow finishes
$res = $node->safe_psql('old',
	"SELECT durable.complete_activity('$atok2', '\"done\"', return_workflow_task => true)");
$wtok = $node->safe_psql('old', qq{SELECT '$res'::jsonb->'tasks'->0->>'task_token'});
is($node->safe_psql('old', qq{
	SELECT durable.complete_workflow_task('$wtok', '[{"type": "complete_workflow", "result": 8}]') ->> 'outcome';
	SELECT durable.workflow_result('up-act');
	SELECT string_agg(event_id || ' ' || event_type, ', ' ORDER BY event_id) FROM durable.get_history('up-act');
}), "completed\n8\n$events_11", 'the activity out under 0.2 completes after the update');

# the workflow task that ran across the update completes; the buffered
# signal follows its events and a new task carries it
is($node->safe_psql('old', qq{
	SELECT durable.complete_workflow_task('$wtok3', '[]') ->> 'outcome';
	SELECT string_agg(event_id || ' ' || event_type, ', ' ORDER BY event_id) FROM durable.get_history('up-sig');
	SELECT jsonb_path_query_array(history, '\$[*].event_type')::text FROM durable.poll_task('upq3', 'w-03');
}), join("\n", 'completed',
		join(', ', '1 WorkflowExecutionStarted', '2 WorkflowTaskScheduled', '3 WorkflowTaskStarted',
			'4 WorkflowTaskCompleted', '5 WorkflowExecutionSignaled', '6 WorkflowTaskScheduled'),
		'["WorkflowExecutionStarted", "WorkflowTaskScheduled", "WorkflowTaskStarted", "WorkflowTaskCompleted", '
		  . '"WorkflowExecutionSignaled", "WorkflowTaskScheduled", "WorkflowTaskStarted"]'),
	'the signal buffered under 0.2 is delivered after the update');

# the timer set under 0.2 fires under the new engine
ok($node->poll_query_until('old', q{
	SELECT count(*) = 1 FROM durable.get_history('up-timer') WHERE event_type = 'TimerFired'}),
	'the timer set under 0.2 fires after the update');

# and new workflows run on the updated database
is($node->safe_psql('old', q{
	SELECT durable.start_workflow('Up', NULL, 'up-2', 'upq') IS NOT NULL;
	SELECT durable.complete_workflow_task(
		(SELECT task_token FROM durable.poll_task('upq', 'w-new', '{workflow}')),
		'[{"type": "complete_workflow"}]') ->> 'outcome';
}), "t\ncompleted", 'new workflows run after the update');

$node->stop;
done_testing();
