--
-- 02_start: durable.start_workflow and its policies, request ids, delays and
-- argument checks.
--
-- helpers (t_try, t_hist, t_poll, t_start_with, t_wait, t_aev)
\getenv abs_srcdir PG_ABS_SRCDIR
\set helpers :abs_srcdir '/sql/helpers.psql'
\i :helpers

--
-- start_workflow with every argument
--
SELECT durable.start_workflow(
	workflow_type => 'Order',
	input => '{"order": 42}',
	workflow_id => 's-all',
	task_queue => 'q02',
	execution_timeout => '1 day',
	run_timeout => '2 hours',
	task_timeout => '15 seconds',
	id_reuse_policy => 'allow_duplicate',
	id_conflict_policy => 'fail',
	retry_policy => '{"initial_interval": "2s", "maximum_attempts": 3}',
	start_delay => NULL,
	request_id => 'req-all',
	search_attributes => '{"customer": "c1", "amount": 10}',
	memo => '{"note": "hello"}',
	priority => 5) AS run_all \gset

SELECT workflow_id, workflow_type, task_queue, status, input, execution_timeout, run_timeout,
	   task_timeout, first_run_id = run_id AS first_is_self, previous_run_id, attempt, retry_policy,
	   search_attributes, memo, priority, request_id, history_length, wft_state, wft_attempt,
	   wft_scheduled_event_id,
	   abs(extract(epoch FROM execution_deadline - start_time) - 86400) < 1 AS exec_deadline_1day
FROM durable.workflows WHERE run_id = :'run_all';

SELECT * FROM t_hist('s-all');

-- a workflow task is queued on the run's queue with its priority
SELECT kind, task_queue, priority, started_time IS NULL AS ready
FROM durable.tasks WHERE run_id = :'run_all';

-- the run and execution timeouts are durable timers
SELECT kind, timer_id FROM durable.timers WHERE run_id = :'run_all' ORDER BY kind;

SELECT workflow_id, run_id = :'run_all' AS same_run, workflow_type, task_queue, status,
	   history_length, input, attempt, cancel_requested, search_attributes, memo,
	   pending_workflow_task->>'state' AS wft_state, pending_activities, pending_timers
FROM durable.describe_workflow('s-all');

-- defaults: a generated workflow id, queue "default", task timeout 10 s
SELECT durable.start_workflow('Defaults') AS run_def \gset
SELECT workflow_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' AS id_is_a_uuid, task_queue, task_timeout, run_timeout,
	   execution_timeout, retry_policy, search_attributes, memo, priority, request_id
FROM durable.workflows WHERE run_id = :'run_def';
SELECT durable.terminate_workflow(workflow_id) FROM durable.workflows WHERE run_id = :'run_def';

--
-- id conflict policies (a run with this workflow id is running)
--
SELECT durable.start_workflow('Order', workflow_id => 's-conf', task_queue => 'q02') AS run_c1 \gset
SELECT t_try($$SELECT durable.start_workflow('Order', workflow_id => 's-conf', task_queue => 'q02')$$);
SELECT t_try($$SELECT durable.start_workflow('Order', workflow_id => 's-conf', task_queue => 'q02',
											id_conflict_policy => 'fail')$$);
SELECT durable.start_workflow('Order', workflow_id => 's-conf', task_queue => 'q02',
							  id_conflict_policy => 'use_existing') = :'run_c1' AS use_existing_same_run;
SELECT count(*) AS runs FROM durable.workflows WHERE workflow_id = 's-conf';
-- terminate_existing: the old run is terminated, a new one starts
SELECT durable.start_workflow('Order', workflow_id => 's-conf', task_queue => 'q02',
							  id_conflict_policy => 'terminate_existing') AS run_c2 \gset
SELECT :'run_c2' <> :'run_c1' AS new_run;
SELECT run_id = :'run_c1' AS old, status, failure->>'type' AS failure_type
FROM durable.workflows WHERE workflow_id = 's-conf' ORDER BY old DESC;
SELECT * FROM t_hist('s-conf', :'run_c1');
-- the old run's pending work is gone
SELECT count(*) AS old_tasks FROM durable.tasks WHERE run_id = :'run_c1';
SELECT durable.terminate_workflow('s-conf', 'cleanup');

--
-- id reuse policies (no run with this workflow id is running)
--
-- allow_duplicate: any closed run may be followed by a new one
SELECT durable.start_workflow('Order', workflow_id => 's-reuse', task_queue => 'q02r') AS r1 \gset
SELECT durable.terminate_workflow('s-reuse');
SELECT durable.start_workflow('Order', workflow_id => 's-reuse', task_queue => 'q02r',
							  id_reuse_policy => 'allow_duplicate') <> :'r1' AS allowed;
SELECT durable.terminate_workflow('s-reuse');
-- allow_duplicate_failed_only: allowed after terminated, failed, canceled, timed out ...
SELECT t_try($$SELECT durable.start_workflow('Order', workflow_id => 's-reuse', task_queue => 'q02r',
											id_reuse_policy => 'allow_duplicate_failed_only')$$);
-- ... but not after a completed run: complete the running one through a worker
SELECT task_token AS tok FROM durable.poll_task('q02r', 'w02', '{workflow}') \gset
SELECT durable.complete_workflow_task(:'tok', '[{"type": "complete_workflow", "result": "done"}]');
SELECT t_try($$SELECT durable.start_workflow('Order', workflow_id => 's-reuse', task_queue => 'q02r',
											id_reuse_policy => 'allow_duplicate_failed_only')$$);
-- reject_duplicate: never after any run
SELECT t_try($$SELECT durable.start_workflow('Order', workflow_id => 's-reuse', task_queue => 'q02r',
											id_reuse_policy => 'reject_duplicate')$$);
-- reject_duplicate with a workflow id never used before is fine
SELECT t_try($$SELECT durable.start_workflow('Order', workflow_id => 's-reuse-new', task_queue => 'q02r',
											id_reuse_policy => 'reject_duplicate')$$);
SELECT durable.terminate_workflow('s-reuse-new');
-- the reuse policy does not apply while a run is running: the conflict policy does
SELECT durable.start_workflow('Order', workflow_id => 's-reuse2', task_queue => 'q02r') AS r2 \gset
SELECT durable.start_workflow('Order', workflow_id => 's-reuse2', task_queue => 'q02r',
							  id_reuse_policy => 'reject_duplicate',
							  id_conflict_policy => 'use_existing') = :'r2' AS use_existing_same_run;
SELECT t_try($$SELECT durable.start_workflow('Order', workflow_id => 's-reuse2', task_queue => 'q02r',
											id_reuse_policy => 'reject_duplicate',
											id_conflict_policy => 'terminate_existing')$$);
-- the rejected start rolled back the termination
SELECT status FROM durable.workflows WHERE run_id = :'r2';
SELECT durable.terminate_workflow('s-reuse2');
SELECT workflow_id, status, count(*)
FROM durable.workflows WHERE workflow_id LIKE 's-reuse%' GROUP BY 1, 2 ORDER BY 1, 2;

--
-- request_id: a repeated start with the same request id returns the same run
--
SELECT durable.start_workflow('Order', workflow_id => 's-req', task_queue => 'q02',
							  request_id => 'rq-1') AS rq1 \gset
SELECT durable.start_workflow('Order', workflow_id => 's-req', task_queue => 'q02',
							  request_id => 'rq-1') = :'rq1' AS same_run;
-- even after the run closed, and even with id_conflict_policy fail
SELECT durable.terminate_workflow('s-req');
SELECT durable.start_workflow('Order', workflow_id => 's-req', task_queue => 'q02',
							  request_id => 'rq-1', id_reuse_policy => 'reject_duplicate') = :'rq1' AS same_run_after_close;
-- another request id starts another run
SELECT durable.start_workflow('Order', workflow_id => 's-req', task_queue => 'q02',
							  request_id => 'rq-2') <> :'rq1' AS new_run;
SELECT request_id, status FROM durable.workflows WHERE workflow_id = 's-req' ORDER BY request_id;
SELECT durable.terminate_workflow('s-req');

--
-- a start is transactional: ROLLBACK leaves no trace
--
BEGIN;
SELECT durable.start_workflow('Order', workflow_id => 's-rollback', task_queue => 'q02-rb') IS NOT NULL AS started;
SELECT count(*) AS visible_inside FROM durable.workflows WHERE workflow_id = 's-rollback';
ROLLBACK;
SELECT (SELECT count(*) FROM durable.workflows WHERE workflow_id = 's-rollback') AS runs,
	   (SELECT count(*) FROM durable.tasks WHERE task_queue = 'q02-rb') AS tasks;
SELECT t_try($$SELECT durable.describe_workflow('s-rollback')$$);
SELECT count(*) AS no_task FROM durable.poll_task('q02-rb', 'w02');

--
-- start_delay: no workflow task until the delay has passed
--
SELECT durable.start_workflow('Order', workflow_id => 's-delay', task_queue => 'q02-delay',
							  start_delay => '1 hour', run_timeout => '1 minute') AS rdelay \gset
SELECT status, wft_state, wft_scheduled_event_id, history_length
FROM durable.workflows WHERE run_id = :'rdelay';
SELECT * FROM t_hist('s-delay');
SELECT count(*) AS no_task FROM durable.poll_task('q02-delay', 'w02');
SELECT count(*) AS tasks FROM durable.tasks WHERE run_id = :'rdelay';
-- the first task is due in an hour; the run timeout counts from then
SELECT kind, fire_time - (SELECT start_time FROM durable.workflows WHERE run_id = :'rdelay') AS after_start
FROM durable.timers WHERE run_id = :'rdelay' ORDER BY kind;
SELECT pending_workflow_task->>'state' AS wft FROM durable.describe_workflow('s-delay');
-- a zero delay is no delay
SELECT durable.start_workflow('Order', workflow_id => 's-delay0', task_queue => 'q02-delay0',
							  start_delay => '0') AS rdelay0 \gset
SELECT wft_state FROM durable.workflows WHERE run_id = :'rdelay0';
SELECT durable.terminate_workflow('s-delay');
SELECT durable.terminate_workflow('s-delay0');

--
-- search attributes and memo are stored, searchable and in the history
--
SELECT durable.start_workflow('Order', workflow_id => 's-sa', task_queue => 'q02',
							  search_attributes => '{"region": "eu", "tier": 2, "tags": ["a", "b"]}',
							  memo => '{"m": [1, 2, 3]}') IS NOT NULL AS started;
SELECT workflow_id FROM durable.workflows
WHERE search_attributes @> '{"region": "eu"}' ORDER BY workflow_id;
SELECT search_attributes, memo FROM durable.describe_workflow('s-sa');
SELECT attributes::jsonb->'search_attributes' AS sa, attributes::jsonb->'memo' AS memo
FROM t_hist('s-sa') WHERE event_id = 1;
SELECT durable.terminate_workflow('s-sa');

--
-- bad input: each is rejected with its SQLSTATE and nothing is started
--
SELECT t_try($$SELECT durable.start_workflow(NULL)$$) AS null_type;
SELECT t_try($$SELECT durable.start_workflow('')$$) AS empty_type;
SELECT t_try($$SELECT durable.start_workflow('T', workflow_id => '')$$) AS empty_id;
SELECT t_try($$SELECT durable.start_workflow('T', id_reuse_policy => 'sometimes')$$) AS bad_reuse;
SELECT t_try($$SELECT durable.start_workflow('T', id_reuse_policy => NULL)$$) AS null_reuse;
SELECT t_try($$SELECT durable.start_workflow('T', id_conflict_policy => 'ignore')$$) AS bad_conflict;
SELECT t_try($$SELECT durable.start_workflow('T', execution_timeout => '0')$$) AS zero_exec;
SELECT t_try($$SELECT durable.start_workflow('T', execution_timeout => '-1 second')$$) AS neg_exec;
SELECT t_try($$SELECT durable.start_workflow('T', run_timeout => '0')$$) AS zero_run;
SELECT t_try($$SELECT durable.start_workflow('T', run_timeout => '-5 minutes')$$) AS neg_run;
SELECT t_try($$SELECT durable.start_workflow('T', task_timeout => '0')$$) AS zero_task;
SELECT t_try($$SELECT durable.start_workflow('T', task_timeout => NULL)$$) AS null_task;
SELECT t_try($$SELECT durable.start_workflow('T', start_delay => '-1 second')$$) AS neg_delay;
SELECT t_try(format('SELECT durable.start_workflow(%L)', repeat('t', 1001))) AS long_type;
SELECT t_try(format('SELECT durable.start_workflow(''T'', workflow_id => %L)', repeat('x', 1001))) AS long_id;
SELECT t_try(format('SELECT durable.start_workflow(''T'', task_queue => %L)', repeat('q', 1001))) AS long_queue;
SELECT t_try(format('SELECT durable.start_workflow(''T'', request_id => %L)', repeat('r', 1001))) AS long_request;
-- 1000 bytes is the limit, counted in bytes (500 two-byte characters fit, 501 do not)
SELECT t_try(format('SELECT durable.start_workflow(''T'', workflow_id => %L, task_queue => ''q02-long'')', repeat('x', 1000))) AS id_1000;
SELECT t_try(format('SELECT durable.start_workflow(''T'', workflow_id => %L, task_queue => ''q02-long'')', repeat('é', 500))) AS id_500_2byte;
SELECT t_try(format('SELECT durable.start_workflow(''T'', workflow_id => %L, task_queue => ''q02-long'')', repeat('é', 501))) AS id_501_2byte;
SELECT durable.terminate_workflow(workflow_id) FROM durable.workflows WHERE task_queue = 'q02-long' AND status = 'running';
SELECT t_try($$SELECT durable.start_workflow('T', search_attributes => '[1, 2]')$$) AS sa_array;
SELECT t_try($$SELECT durable.start_workflow('T', search_attributes => '"x"')$$) AS sa_string;
SELECT t_try($$SELECT durable.start_workflow('T', retry_policy => '[]')$$) AS rp_array;
SELECT t_try($$SELECT durable.start_workflow('T', retry_policy => '{"max_attempts": 3}')$$) AS rp_unknown_field;
SELECT t_try($$SELECT durable.start_workflow('T', retry_policy => '{"initial_interval": "0s"}')$$) AS rp_zero_initial;
SELECT t_try($$SELECT durable.start_workflow('T', retry_policy => '{"initial_interval": "-1s"}')$$) AS rp_neg_initial;
SELECT t_try($$SELECT durable.start_workflow('T', retry_policy => '{"initial_interval": "soon"}')$$) AS rp_bad_interval;
SELECT t_try($$SELECT durable.start_workflow('T', retry_policy => '{"backoff_coefficient": 0.5}')$$) AS rp_coefficient;
SELECT t_try($$SELECT durable.start_workflow('T', retry_policy => '{"backoff_coefficient": "2"}')$$) AS rp_coefficient_text;
SELECT t_try($$SELECT durable.start_workflow('T', retry_policy => '{"initial_interval": "10s", "maximum_interval": "5s"}')$$) AS rp_max_lt_initial;
SELECT t_try($$SELECT durable.start_workflow('T', retry_policy => '{"maximum_attempts": -1}')$$) AS rp_neg_attempts;
SELECT t_try($$SELECT durable.start_workflow('T', retry_policy => '{"maximum_attempts": 1.5}')$$) AS rp_frac_attempts;
SELECT t_try($$SELECT durable.start_workflow('T', retry_policy => '{"maximum_attempts": "3"}')$$) AS rp_text_attempts;
SELECT t_try($$SELECT durable.start_workflow('T', retry_policy => '{"non_retryable_error_types": "E"}')$$) AS rp_types_string;
SELECT t_try($$SELECT durable.start_workflow('T', retry_policy => '{"non_retryable_error_types": [1]}')$$) AS rp_types_numbers;
-- payload size limit (durable.max_payload_size is superuser-settable)
SET durable.max_payload_size = '1kB';
SHOW durable.max_payload_size;
SELECT t_try(format('SELECT durable.start_workflow(''T'', input => %L)', to_jsonb(repeat('p', 2000)))) AS big_input;
SELECT t_try(format('SELECT durable.start_workflow(''T'', memo => %L)', jsonb_build_object('m', repeat('p', 2000)))) AS big_memo;
SELECT t_try(format('SELECT durable.start_workflow(''T'', search_attributes => %L)', jsonb_build_object('s', repeat('p', 2000)))) AS big_sa;
SELECT t_try(format('SELECT durable.start_workflow(''T'', task_queue => ''q02-size'', input => %L)', to_jsonb(repeat('p', 500)))) AS small_input;
RESET durable.max_payload_size;
SELECT t_try($$SET durable.max_payload_size = '100'$$) AS below_minimum;
SELECT durable.terminate_workflow(workflow_id) FROM durable.workflows WHERE task_queue = 'q02-size' AND status = 'running';
-- none of the rejected starts left a run
SELECT count(*) AS runs_of_type_t FROM durable.workflows WHERE workflow_type = 'T' AND task_queue NOT IN ('q02-long', 'q02-size');

-- the normalised retry policy with Temporal's defaults
SELECT durable.start_workflow('T', workflow_id => 's-rp', task_queue => 'q02',
	retry_policy => '{"initial_interval": "500ms", "non_retryable_error_types": ["Fatal"]}') IS NOT NULL AS started;
SELECT retry_policy FROM durable.workflows WHERE workflow_id = 's-rp';
SELECT durable.terminate_workflow('s-rp');
SELECT durable.terminate_workflow('s-all');
