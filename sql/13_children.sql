--
-- 13_children: child workflows, and signals and cancels sent to other
-- workflows (issue 11).  A parent's start_child_workflow starts the child
-- in the same transaction; the child's close, the parent's close policy and
-- external signals and cancels reach the other run through the timer
-- service, which never waits for a lock.  Histories are Temporal's.
--
-- helpers (t_try, t_hist, t_poll, t_start_with, t_wait)
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/sql/helpers.psql'
\i :helpers
-- t_done completes the next workflow task of a queue with the commands
CREATE FUNCTION t_done(q text, cmds jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	tok text;
BEGIN
	SELECT task_token INTO tok FROM durable.poll_task(q, 'worker-1', '{workflow}');
	IF tok IS NULL THEN
		RETURN 'no task';
	END IF;
	RETURN durable.complete_workflow_task(tok, cmds)->>'outcome';
END
$$;
-- t_events lists a workflow's event types after an event id
CREATE FUNCTION t_events(wid text, after bigint DEFAULT 0) RETURNS text LANGUAGE sql AS $$
	SELECT string_agg(event_id || ' ' || event_type, ', ' ORDER BY event_id)
	FROM durable.get_history(wid) WHERE event_id > after
$$;

--
-- a parent starts two children; a third start finds its id running
--
SELECT t_start_with('t13-p', 't13-p', '[
	{"type": "start_child_workflow", "workflow_id": "t13-c1", "workflow_type": "Child",
	 "task_queue": "t13-c", "input": {"n": 1}, "run_timeout": "1 hour"},
	{"type": "start_child_workflow", "workflow_id": "t13-c2", "workflow_type": "Child",
	 "task_queue": "t13-c", "parent_close_policy": "abandon"},
	{"type": "start_child_workflow", "workflow_id": "t13-p", "workflow_type": "Child"}]') AS outcome;
SELECT * FROM t_hist('t13-p');
SELECT * FROM t_hist('t13-c1');
SELECT workflow_id, parent_workflow_id, parent_run_id = (SELECT run_id FROM durable.workflows WHERE workflow_id = 't13-p') AS parent_run,
	   parent_initiated_event_id
FROM durable.workflows WHERE workflow_id LIKE 't13-c_' ORDER BY 1;
SELECT jsonb_array_length(pending_children) AS children,
	   t_scrub(pending_children->>0) AS first
FROM durable.describe_workflow('t13-p');

--
-- the children close: the parent hears of each, in the order they closed
--
SELECT t_done('t13-p', '[]') AS parent_task;
SELECT t_done('t13-c', '[{"type": "complete_workflow", "result": "one"}]') AS c1;
SELECT t_done('t13-c', '[{"type": "fail_workflow", "failure": {"message": "two failed", "type": "Boom"}}]') AS c2;
SELECT t_wait($$(SELECT count(*) FROM durable.get_history('t13-p') WHERE event_type LIKE 'ChildWorkflowExecution%ed' AND event_type <> 'ChildWorkflowExecutionStarted') = 2$$) AS heard;
-- (two children's closes reach the parent in either order, as in Temporal)
SELECT event_type, attributes FROM t_hist('t13-p')
WHERE event_type IN ('ChildWorkflowExecutionCompleted', 'ChildWorkflowExecutionFailed')
ORDER BY attributes::jsonb->>'initiated_event_id';
SELECT t_events('t13-p', 12) ~ '^13 WorkflowTaskCompleted, 14 ChildWorkflowExecution(Completed|Failed), 15 WorkflowTaskScheduled, 16 ChildWorkflowExecution(Completed|Failed)$' AS in_order;
SELECT pending_children FROM durable.describe_workflow('t13-p');

--
-- parent close policies: terminate, abandon, request_cancel
--
SELECT t_start_with('t13-q', 't13-q', '[
	{"type": "start_child_workflow", "workflow_id": "t13-term", "workflow_type": "Child", "task_queue": "t13-k"},
	{"type": "start_child_workflow", "workflow_id": "t13-aban", "workflow_type": "Child", "task_queue": "t13-k",
	 "parent_close_policy": "abandon"},
	{"type": "start_child_workflow", "workflow_id": "t13-canc", "workflow_type": "Child", "task_queue": "t13-k",
	 "parent_close_policy": "request_cancel"}]') AS outcome;
SELECT t_done('t13-q', '[{"type": "complete_workflow", "result": "bye"}]') AS parent_closes;
SELECT t_wait($$NOT EXISTS (SELECT 1 FROM durable.children c JOIN durable.workflows w ON w.run_id = c.parent_run_id WHERE w.workflow_id = 't13-q')$$) AS applied;
SELECT workflow_id, status, cancel_requested FROM durable.workflows WHERE workflow_id IN ('t13-term', 't13-aban', 't13-canc') ORDER BY 1;
SELECT t_events('t13-term') AS terminated, t_events('t13-canc') AS cancel_requested;
SELECT event_type, attributes->>'cause' AS cause, attributes->>'identity' AS identity
FROM durable.get_history('t13-canc') WHERE event_type = 'WorkflowExecutionCancelRequested';
SELECT durable.terminate_workflow('t13-aban');
SELECT durable.terminate_workflow('t13-canc');

--
-- a child that continues as new stays the child: the parent hears of the
-- chain's last run
--
SELECT t_start_with('t13-r', 't13-r', '[
	{"type": "start_child_workflow", "workflow_id": "t13-can", "workflow_type": "Child", "task_queue": "t13-n"}]') AS outcome;
SELECT t_done('t13-n', '[{"type": "continue_as_new", "input": 2}]') AS continued;
SELECT workflow_id, status, parent_workflow_id, parent_initiated_event_id FROM durable.workflows
WHERE workflow_id = 't13-can' ORDER BY start_time;
SELECT attributes->'parent_workflow_execution'->>'workflow_id' AS parent, attributes->>'parent_initiated_event_id' AS initiated
FROM durable.get_history('t13-can') WHERE event_type = 'WorkflowExecutionStarted';
SELECT t_done('t13-n', '[{"type": "complete_workflow", "result": "last"}]') AS completed;
SELECT t_wait($$EXISTS (SELECT 1 FROM durable.get_history('t13-r') WHERE event_type = 'ChildWorkflowExecutionCompleted')$$) AS heard;
SELECT attributes->>'result' AS result,
	   attributes->'workflow_execution'->>'run_id' = (SELECT run_id::text FROM durable.workflows WHERE workflow_id = 't13-can' AND status = 'completed') AS last_run
FROM durable.get_history('t13-r') WHERE event_type = 'ChildWorkflowExecutionCompleted';
SELECT durable.terminate_workflow('t13-r');

--
-- signals and cancels sent to other workflows
--
SELECT durable.start_workflow('Target', NULL, 't13-target', 't13-t') IS NOT NULL AS target;
SELECT t_start_with('t13-s', 't13-s', '[
	{"type": "signal_external_workflow", "workflow_id": "t13-target", "signal_name": "ping", "input": {"n": 7}},
	{"type": "signal_external_workflow", "workflow_id": "t13-missing", "signal_name": "ping"},
	{"type": "signal_external_workflow", "workflow_id": "t13-target", "signal_name": "only", "child_workflow_only": true},
	{"type": "request_cancel_external_workflow", "workflow_id": "t13-target", "reason": "enough"}]') AS outcome;
SELECT t_wait($$(SELECT count(*) FROM durable.get_history('t13-s') WHERE event_type LIKE '%External%' AND event_type NOT LIKE '%Initiated') = 4$$) AS answered;
SELECT * FROM t_hist('t13-s') WHERE event_id > 4;
SELECT * FROM t_hist('t13-target') WHERE event_id > 2;
-- the signal is delivered once, even if the engine fired its timer twice
SELECT count(*) AS ping_requests FROM durable.signal_requests r JOIN durable.workflows w USING (run_id) WHERE w.workflow_id = 't13-target';
SELECT durable.terminate_workflow('t13-target');
SELECT durable.terminate_workflow('t13-s');

--
-- a signal sent in the workflow task that closes the run still arrives
--
SELECT durable.start_workflow('Target', NULL, 't13-late', 't13-l') IS NOT NULL AS target;
SELECT t_start_with('t13-last', 't13-u', '[
	{"type": "signal_external_workflow", "workflow_id": "t13-late", "signal_name": "goodbye"},
	{"type": "complete_workflow", "result": null}]') AS outcome;
SELECT t_wait($$EXISTS (SELECT 1 FROM durable.get_history('t13-late') WHERE event_type = 'WorkflowExecutionSignaled')$$) AS arrived;
SELECT t_events('t13-last') AS sender;
SELECT durable.terminate_workflow('t13-late');

--
-- bad commands change nothing
--
SELECT durable.start_workflow('Parent', NULL, 't13-bad', 't13-b') IS NOT NULL AS started;
SELECT task_token AS tok FROM durable.poll_task('t13-b', 'worker-1', '{workflow}') \gset
SELECT t_try(format($$SELECT durable.complete_workflow_task(%L, '[{"type": "start_child_workflow", "workflow_type": "C"}]')$$, :'tok')) AS no_id;
SELECT t_try(format($$SELECT durable.complete_workflow_task(%L, '[{"type": "start_child_workflow", "workflow_id": "x", "workflow_type": "C", "parent_close_policy": "orphan"}]')$$, :'tok')) AS bad_policy;
SELECT t_try(format($$SELECT durable.complete_workflow_task(%L, '[{"type": "start_child_workflow", "workflow_id": "x", "workflow_type": "C", "run_timeout": "-1 s"}]')$$, :'tok')) AS negative_timeout;
SELECT t_try(format($$SELECT durable.complete_workflow_task(%L, '[{"type": "start_child_workflow", "workflow_id": "x", "workflow_type": "C", "namespace": "other"}]')$$, :'tok')) AS other_namespace;
SELECT t_try(format($$SELECT durable.complete_workflow_task(%L, '[{"type": "signal_external_workflow", "workflow_id": "x", "signal_name": "s", "run_id": "not-a-uuid"}]')$$, :'tok')) AS bad_run_id;
SELECT t_try(format($$SELECT durable.complete_workflow_task(%L, '[{"type": "signal_external_workflow", "workflow_id": "x"}]')$$, :'tok')) AS no_signal_name;
SELECT t_try(format($$SELECT durable.complete_workflow_task(%L, '[{"type": "request_cancel_external_workflow", "workflow_id": "x", "child_workflow_only": "yes"}]')$$, :'tok')) AS not_boolean;
SELECT count(*) AS no_child_started FROM durable.workflows WHERE workflow_id = 'x';
SELECT t_events('t13-bad') AS unchanged;
SELECT durable.complete_workflow_task(:'tok', '[]')->>'outcome' AS still_completes;
SELECT durable.terminate_workflow('t13-bad');
