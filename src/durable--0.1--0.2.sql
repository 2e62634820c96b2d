/*
 * durable--0.1--0.2.sql
 *	  Eager dispatch and fewer statements per step.
 *
 * 1. Eager dispatch.  A completion can hand the caller the next task it
 *	  makes ready, started for it in the same transaction, instead of
 *	  announcing the task to pollers and having one of them claim it in a
 *	  transaction of its own:
 *	  - a schedule_activity command with "request_eager_execution": true on
 *		the workflow's own task queue starts the activity for the worker
 *		completing the workflow task;
 *	  - complete_workflow_task, complete_activity and fail_activity take
 *		return_workflow_task: the workflow task the call schedules, if any,
 *		is started for the same worker.
 *	  Both come back in the "tasks" array of the call's result (now json),
 *	  as the objects poll_task's rows are (to_json(durable.task)).  Such a task's
 *	  row is inserted already started, so no poller is woken for it and
 *	  nobody else can claim it.  A chain of N activities then takes 2N + 3
 *	  commits: the start, one claim, and one per completion.
 *
 * 2. One history write per step.  Each call gathers its events and writes
 *	  them with one INSERT and one update of the run's row, where 0.1 wrote
 *	  each event on its own (about 20 updates of the workflows row per
 *	  three-activity workflow, now 9).
 *
 * 3. Less work per statement: _duration and _parse_token in C, helpers
 *	  that were SQL functions the planner could not inline (and so parsed in
 *	  every transaction) in PL/pgSQL, command loops without queries.
 *
 * Only functions change; tables and the task type are as in 0.1.
 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION durable UPDATE TO '0.2'" to load this file. \quit

--------------------------------------------------------------------------
-- Helpers moved to C or to PL/pgSQL: a SQL function that cannot be
-- inlined (these call stable functions) is parsed again in every
-- transaction that calls it.
--------------------------------------------------------------------------

-- Protobuf-style duration text ("30s", "0.25s") of an interval, NULL for NULL.
CREATE OR REPLACE FUNCTION durable._duration(d interval) RETURNS text
	AS 'MODULE_PATHNAME', '_duration' LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- Split a task token (formats in _parse_token's C comment), or raise 22P02.
CREATE OR REPLACE FUNCTION durable._parse_token(p_token text, OUT kind text, OUT run_id uuid, OUT n1 bigint,
												OUT n2 bigint, OUT n3 bigint)
	AS 'MODULE_PATHNAME', '_parse_token' LANGUAGE C IMMUTABLE;

-- The token of an activity attempt (the format _parse_token reads).
CREATE OR REPLACE FUNCTION durable._activity_task_token(a durable.activities) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	RETURN 'a:' || a.run_id::text || ':' || a.scheduled_event_id::text || ':' || a.attempt::text || ':0';
END
$$;

--------------------------------------------------------------------------
-- History
--------------------------------------------------------------------------

/*
 * Insert events into a run's history with ids from p_first on.  An
 * attribute "started_event_id": "previous" becomes the id of the event
 * before (an activity's closing event follows its ActivityTaskStarted).
 * The caller holds the run's row lock and moves history_length.
 */
CREATE FUNCTION durable._insert_events(p_run uuid, p_first bigint, p_events jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO durable.history (run_id, event_id, event_type, event_time, attributes)
	SELECT p_run, p_first + e.ord - 1, e.ev->>'event_type',
		   coalesce((e.ev->>'event_time')::timestamptz, clock_timestamp()),
		   CASE WHEN e.ev->'attributes'->'started_event_id' = '"previous"'
				THEN jsonb_set(e.ev->'attributes', '{started_event_id}', to_jsonb(p_first + e.ord - 2))
				ELSE coalesce(e.ev->'attributes', '{}') END
	FROM jsonb_array_elements(p_events) WITH ORDINALITY AS e(ev, ord);
END
$$;

-- Append events to a run's history; the caller holds the run's row lock.
CREATE OR REPLACE FUNCTION durable._append(p_run uuid, p_events jsonb) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	last_id bigint;
BEGIN
	UPDATE durable.workflows SET history_length = history_length + jsonb_array_length(p_events)
	WHERE run_id = p_run
	RETURNING history_length INTO last_id;
	PERFORM durable._insert_events(p_run, last_id - jsonb_array_length(p_events) + 1, p_events);
	RETURN last_id;
END
$$;

/*
 * A run's stored history as the JSON array workers receive.  The primary
 * key returns the rows in event id order; aggregating that sorted
 * subquery spares the sort an ordered aggregate does.
 */
CREATE OR REPLACE FUNCTION durable._history_json(p_run uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
	RETURN (SELECT coalesce(jsonb_agg(s.e), '[]')
			FROM (SELECT jsonb_build_object('event_id', h.event_id, 'event_type', h.event_type,
											'event_time', h.event_time, 'attributes', h.attributes) AS e
				  FROM durable.history h WHERE h.run_id = p_run ORDER BY h.event_id) s);
END
$$;

--------------------------------------------------------------------------
-- Matching: task rows, and what a worker receives
--------------------------------------------------------------------------

/*
 * Make a task row.  Without p_worker it is ready, and a poller is woken at
 * commit.  With p_worker (eager dispatch) it is started for that worker
 * from p_started until p_lease: nobody is woken, and nobody else can claim
 * it.  A row that is there already (a ready task scheduled again) keeps its
 * place in the queue; if the transaction rolls back, it is ready again and
 * announced.
 */
DROP FUNCTION durable._enqueue(uuid, bigint, text, text, integer, timestamptz);
CREATE FUNCTION durable._enqueue(p_run uuid, p_seid bigint, p_kind text, p_queue text,
								 p_priority integer, p_expire timestamptz DEFAULT NULL,
								 p_worker text DEFAULT NULL, p_started timestamptz DEFAULT NULL,
								 p_lease timestamptz DEFAULT NULL) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO durable.tasks AS t (run_id, scheduled_event_id, kind, task_queue, priority, ready_time,
		expire_time, worker_id, started_time, lease_deadline)
	VALUES (p_run, p_seid, p_kind, p_queue, p_priority, clock_timestamp(),
		CASE WHEN p_worker IS NULL THEN p_expire END, p_worker, p_started, p_lease)
	ON CONFLICT (run_id, scheduled_event_id) DO UPDATE
		SET ready_time = CASE WHEN t.started_time IS NULL THEN t.ready_time ELSE EXCLUDED.ready_time END,
			expire_time = EXCLUDED.expire_time, worker_id = EXCLUDED.worker_id,
			started_time = EXCLUDED.started_time, lease_deadline = EXCLUDED.lease_deadline;
	IF p_worker IS NULL THEN
		PERFORM durable._notify_task(p_queue, p_kind);
		IF p_expire IS NOT NULL THEN
			PERFORM durable._notify_timer(p_expire);
		END IF;
	ELSE
		PERFORM durable._notify_timer(p_lease);
		PERFORM durable._notify_task_on_abort(p_queue, p_kind);
	END IF;
END
$$;

/*
 * What a worker receives for the workflow task of run w started at
 * p_started: the history with the task's own WorkflowTaskScheduled (when
 * transient) and WorkflowTaskStarted, and a token that records both.
 */
CREATE FUNCTION durable._wft_task(w durable.workflows, p_worker text, p_started timestamptz,
								  p_lease timestamptz) RETURNS durable.task
LANGUAGE plpgsql AS $$
DECLARE
	r durable.task;
	hist jsonb;
	last_id bigint;
BEGIN
	-- one statement, one snapshot: event ids are contiguous from 1
	hist := durable._history_json(w.run_id);
	last_id := jsonb_array_length(hist);
	IF w.wft_scheduled_event_id IS NULL THEN
		last_id := last_id + 1;
		hist := hist || jsonb_build_array(jsonb_build_object('event_id', last_id,
			'event_type', 'WorkflowTaskScheduled', 'event_time', w.wft_scheduled_time,
			'attributes', jsonb_build_object('task_queue', w.task_queue,
				'start_to_close_timeout', durable._duration(w.task_timeout), 'attempt', w.wft_attempt)));
	END IF;
	hist := hist || jsonb_build_array(jsonb_build_object('event_id', last_id + 1,
		'event_type', 'WorkflowTaskStarted', 'event_time', p_started,
		'attributes', jsonb_build_object('scheduled_event_id', coalesce(w.wft_scheduled_event_id, last_id),
										 'identity', p_worker)));
	r.task_token := format('w:%s:%s:%s:%s', w.run_id, w.wft_seq, last_id + 1,
						   (EXTRACT(epoch FROM p_started) * 1000000)::bigint);
	r.kind := 'workflow';
	r.workflow_id := w.workflow_id;
	r.run_id := w.run_id;
	r.workflow_type := w.workflow_type;
	r.task_queue := w.task_queue;
	r.input := w.input;
	r.attempt := w.wft_attempt;
	r.history := hist;
	r.scheduled_time := w.wft_scheduled_time;
	r.started_time := p_started;
	r.deadline := p_lease;
	r.priority := w.priority;
	RETURN r;
END
$$;

-- What a worker receives for activity a of run w, started at p_started.
CREATE FUNCTION durable._activity_task(w durable.workflows, a durable.activities, p_started timestamptz,
									   p_lease timestamptz) RETURNS durable.task
LANGUAGE plpgsql AS $$
DECLARE
	r durable.task;
BEGIN
	r.task_token := durable._activity_task_token(a);
	r.kind := 'activity';
	r.workflow_id := w.workflow_id;
	r.run_id := w.run_id;
	r.workflow_type := w.workflow_type;
	r.task_queue := a.task_queue;
	r.activity_id := a.activity_id;
	r.activity_type := a.activity_type;
	r.input := a.input;
	r.attempt := a.attempt;
	r.heartbeat_details := a.heartbeat_details;
	r.scheduled_time := a.scheduled_time;
	r.started_time := p_started;
	r.deadline := p_lease;
	r.heartbeat_timeout := a.heartbeat_timeout;
	r.priority := a.priority;
	RETURN r;
END
$$;

/*
 * Start a ready task for p_worker: lease it and build what the worker
 * receives.  The caller has locked the task row.  Returns NULL for an
 * orphan (its run closed, or its activity or workflow task is gone), which
 * a crash between states can leave behind.  An activity's lease is its
 * start-to-close timeout, or its heartbeat timeout if sooner (least()
 * skips a NULL one).
 */
CREATE FUNCTION durable._start_task(t durable.tasks, p_worker text) RETURNS durable.task
LANGUAGE plpgsql AS $$
DECLARE
	w durable.workflows;
	a durable.activities;
	r durable.task;
	now_ timestamptz := clock_timestamp();
	lease timestamptz;
BEGIN
	SELECT * INTO w FROM durable.workflows WHERE run_id = t.run_id;
	IF NOT FOUND OR w.status <> 'running' THEN
		RETURN NULL;
	END IF;
	IF t.kind = 'workflow' THEN
		IF w.wft_state <> 'scheduled' THEN
			RETURN NULL;
		END IF;
		lease := now_ + w.task_timeout;
		r := durable._wft_task(w, p_worker, now_, lease);
	ELSE
		SELECT * INTO a FROM durable.activities WHERE run_id = t.run_id AND scheduled_event_id = t.scheduled_event_id;
		IF NOT FOUND OR a.state <> 'scheduled' THEN
			RETURN NULL;
		END IF;
		lease := least(now_ + a.start_to_close_timeout, now_ + a.heartbeat_timeout);
		r := durable._activity_task(w, a, now_, lease);
	END IF;
	UPDATE durable.tasks SET started_time = now_, worker_id = p_worker, lease_deadline = lease
	WHERE run_id = t.run_id AND scheduled_event_id = t.scheduled_event_id;
	PERFORM durable._notify_timer(lease);
	PERFORM durable._notify_task_on_abort(t.task_queue, t.kind);
	RETURN r;
END
$$;

/*
 * Claim one ready task of the queue: FOR UPDATE SKIP LOCKED, then start it.
 * Returns NULL when there is none.
 */
CREATE OR REPLACE FUNCTION durable._claim(p_queue text, p_worker text, p_kinds text[]) RETURNS durable.task
LANGUAGE plpgsql AS $$
DECLARE
	t durable.tasks;
	w durable.workflows;
	r durable.task;
	q record;
BEGIN
	-- queries first: somebody is waiting on them right now
	IF 'workflow' = ANY (p_kinds) THEN
		q := durable._claim_query(p_queue);
		IF q.query_id IS NOT NULL THEN
			SELECT * INTO w FROM durable.workflows WHERE run_id = q.run_id;
			r.task_token := format('q:%s:%s:0:0', q.run_id, q.query_id);
			r.kind := 'query';
			r.workflow_id := w.workflow_id;
			r.run_id := w.run_id;
			r.workflow_type := w.workflow_type;
			r.task_queue := p_queue;
			r.query_name := q.query_name;
			r.input := q.args::jsonb;
			r.started_time := clock_timestamp();
			r.priority := w.priority;
			r.history := durable._history_json(w.run_id);
			RETURN r;
		END IF;
	END IF;
	LOOP
		SELECT * INTO t FROM durable.tasks
		WHERE task_queue = p_queue AND started_time IS NULL AND kind = ANY (p_kinds)
		ORDER BY priority, ready_time
		LIMIT 1 FOR UPDATE SKIP LOCKED;
		IF NOT FOUND THEN
			RETURN NULL;
		END IF;
		r := durable._start_task(t, p_worker);
		EXIT WHEN r.task_token IS NOT NULL;
		-- an orphan left by a crash between states; drop it and look again
		DELETE FROM durable.tasks WHERE run_id = t.run_id AND scheduled_event_id = t.scheduled_event_id;
	END LOOP;
	RETURN r;
END
$$;

--------------------------------------------------------------------------
-- Workflow tasks and the events delivered to them
--------------------------------------------------------------------------

/*
 * Make the workflow task's row (see _enqueue): ready, or started for
 * p_worker and returned.  w is the run's row with the task scheduled.
 *
 * A workflow task goes to p_worker only while no activity of the run is
 * outstanding.  Results still to come are better gathered into one task:
 * queued, it is claimed after the activities already ready (the queue
 * serves the oldest first), by when their results wait in the buffer.
 * Handed out at once, a fan-in of N activities would take a workflow task,
 * and a read of the whole history, for nearly every result.
 */
CREATE FUNCTION durable._enqueue_wft(w durable.workflows, p_worker text) RETURNS durable.task
LANGUAGE plpgsql AS $$
DECLARE
	now_ timestamptz;
	lease timestamptz;
	eager boolean := false;
BEGIN
	IF p_worker IS NOT NULL THEN
		eager := NOT EXISTS (SELECT 1 FROM durable.activities a WHERE a.run_id = w.run_id);
	END IF;
	IF NOT eager THEN
		PERFORM durable._enqueue(w.run_id, 0, 'workflow', w.task_queue, w.priority);
		RETURN NULL;
	END IF;
	now_ := clock_timestamp();
	lease := now_ + w.task_timeout;
	PERFORM durable._enqueue(w.run_id, 0, 'workflow', w.task_queue, w.priority, NULL, p_worker, now_, lease);
	RETURN durable._wft_task(w, p_worker, now_, lease);
END
$$;

/*
 * Schedule a workflow task attempt, first appending p_events.  With
 * p_write_event the WorkflowTaskScheduled event goes to history now;
 * without, the attempt is transient and the event is written when the
 * attempt completes.  One update of the run's row does both.  With
 * p_worker the task is started for that worker and returned (eager
 * dispatch); without, it is announced to pollers and NULL returned.
 */
DROP FUNCTION durable._schedule_wft(durable.workflows, integer, boolean);
CREATE FUNCTION durable._schedule_wft(w durable.workflows, p_attempt integer, p_write_event boolean,
									  p_events jsonb DEFAULT '[]', p_worker text DEFAULT NULL)
RETURNS durable.task
LANGUAGE plpgsql AS $$
DECLARE
	evs jsonb := p_events;
	n integer;
BEGIN
	IF p_write_event THEN
		evs := evs || jsonb_build_array(jsonb_build_object(
			'event_type', 'WorkflowTaskScheduled',
			'attributes', jsonb_build_object('task_queue', w.task_queue,
											 'start_to_close_timeout', durable._duration(w.task_timeout),
											 'attempt', p_attempt)));
	END IF;
	n := jsonb_array_length(evs);
	UPDATE durable.workflows
	SET history_length = history_length + n,
		wft_state = 'scheduled', wft_seq = wft_seq + 1, wft_attempt = p_attempt,
		wft_scheduled_event_id = CASE WHEN p_write_event THEN history_length + n END,
		wft_scheduled_time = clock_timestamp()
	WHERE run_id = w.run_id
	RETURNING * INTO w;
	IF n > 0 THEN
		PERFORM durable._insert_events(w.run_id, w.history_length - n + 1, evs);
	END IF;
	RETURN durable._enqueue_wft(w, p_worker);
END
$$;

/*
 * Deliver events from outside a workflow task (signals, activity results,
 * timer fires, cancel requests) to a running run whose row the caller has
 * locked.  While a workflow task runs they are buffered; otherwise they are
 * appended and a workflow task is scheduled if none is.  With p_worker, the
 * workflow task that is ready afterwards is started for that worker and
 * returned (eager dispatch; the caller has checked that the worker polls
 * the workflow's queue).
 */
DROP FUNCTION durable._deliver(uuid, jsonb);
CREATE FUNCTION durable._deliver(p_run uuid, p_events jsonb, p_worker text DEFAULT NULL) RETURNS durable.task
LANGUAGE plpgsql AS $$
DECLARE
	w durable.workflows;
	t durable.tasks;
BEGIN
	SELECT * INTO w FROM durable.workflows WHERE run_id = p_run;
	CASE w.wft_state
	WHEN 'none' THEN
		RETURN durable._schedule_wft(w, 1, true, p_events, p_worker);
	WHEN 'scheduled' THEN
		SELECT * INTO t FROM durable.tasks WHERE run_id = p_run AND scheduled_event_id = 0 FOR UPDATE;
		IF FOUND AND t.started_time IS NOT NULL THEN
			INSERT INTO durable.buffered_events (run_id, event_type, event_time, attributes)
			SELECT p_run, e->>'event_type', clock_timestamp(), e->'attributes'
			FROM jsonb_array_elements(p_events) AS e;
			RETURN NULL;
		END IF;
		IF w.wft_scheduled_event_id IS NULL THEN
			-- a transient retry becomes a regular task that carries the new events
			RETURN durable._schedule_wft(w, 1, true, p_events, p_worker);
		END IF;
		PERFORM durable._append(p_run, p_events);
		-- ready already: announce it again (a poller may have skipped the
		-- row we locked), or hand it out
		RETURN durable._enqueue_wft(w, p_worker);
	WHEN 'backoff' THEN
		DELETE FROM durable.timers WHERE run_id = p_run AND kind = 'wft_retry' AND timer_id = '';
		RETURN durable._schedule_wft(w, 1, true, p_events, p_worker);
	ELSE
		-- 'delayed': the start delay runs its course; the first task sees the events
		PERFORM durable._append(p_run, p_events);
		RETURN NULL;
	END CASE;
END
$$;

-- Take the events buffered while a workflow task ran, in arrival order (NULL: none).
CREATE FUNCTION durable._take_buffer(p_run uuid) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	evs jsonb;
BEGIN
	WITH gone AS (
		DELETE FROM durable.buffered_events WHERE run_id = p_run
		RETURNING seq, event_type, event_time, attributes
	)
	SELECT jsonb_agg(jsonb_build_object('event_type', event_type, 'event_time', event_time,
										'attributes', attributes) ORDER BY seq)
	INTO evs FROM gone;
	RETURN evs;
END
$$;

-- Move buffered events to history.  Returns how many there were.
CREATE OR REPLACE FUNCTION durable._flush_buffer(p_run uuid) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	evs jsonb := durable._take_buffer(p_run);
BEGIN
	IF evs IS NULL THEN
		RETURN 0;
	END IF;
	PERFORM durable._append(p_run, evs);
	RETURN jsonb_array_length(evs);
END
$$;

/*
 * Create a run: the row, WorkflowExecutionStarted (plus an optional first
 * signal, for signal-with-start), the first workflow task or its start
 * delay, and the run and execution timeouts.
 */
CREATE OR REPLACE FUNCTION durable._start_run(
	p_run uuid, p_workflow_id text, p_type text, p_queue text, p_input jsonb,
	p_execution_timeout interval, p_run_timeout interval, p_task_timeout interval,
	p_execution_deadline timestamptz, p_first_run uuid, p_previous_run uuid,
	p_attempt integer, p_retry_policy jsonb, p_delay interval, p_request_id text,
	p_search_attributes jsonb, p_memo jsonb, p_priority integer, p_identity text,
	p_signal jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	w durable.workflows;
	now_ timestamptz := clock_timestamp();
	evs jsonb;
BEGIN
	INSERT INTO durable.workflows (run_id, workflow_id, workflow_type, task_queue, input, start_time,
		execution_timeout, run_timeout, task_timeout, execution_deadline, first_run_id, previous_run_id,
		attempt, retry_policy, search_attributes, memo, priority, request_id)
	VALUES (p_run, p_workflow_id, p_type, p_queue, p_input, now_,
		p_execution_timeout, p_run_timeout, p_task_timeout, p_execution_deadline, p_first_run, p_previous_run,
		p_attempt, p_retry_policy, coalesce(p_search_attributes, '{}'), p_memo, p_priority, p_request_id)
	RETURNING * INTO w;

	evs := jsonb_build_array(jsonb_build_object('event_type', 'WorkflowExecutionStarted',
		'attributes', jsonb_build_object(
			'workflow_type', p_type, 'task_queue', p_queue, 'input', p_input,
			'workflow_execution_timeout', durable._duration(p_execution_timeout),
			'workflow_run_timeout', durable._duration(p_run_timeout),
			'workflow_task_timeout', durable._duration(p_task_timeout),
			'attempt', p_attempt, 'first_execution_run_id', p_first_run,
			'continued_execution_run_id', p_previous_run, 'retry_policy', p_retry_policy,
			'first_workflow_task_backoff', durable._duration(p_delay),
			'search_attributes', coalesce(p_search_attributes, '{}'), 'memo', p_memo,
			'priority', p_priority, 'identity', p_identity, 'request_id', p_request_id)));
	IF p_signal IS NOT NULL THEN
		evs := evs || jsonb_build_array(p_signal);
	END IF;

	IF p_delay IS NOT NULL AND p_delay > '0'::interval THEN
		PERFORM durable._append(p_run, evs);
		UPDATE durable.workflows SET wft_state = 'delayed' WHERE run_id = p_run;
		PERFORM durable._set_timer(p_run, 'workflow_start', '', now_ + p_delay);
	ELSE
		PERFORM durable._schedule_wft(w, 1, true, evs);
	END IF;
	IF p_run_timeout IS NOT NULL THEN
		PERFORM durable._set_timer(p_run, 'workflow_run_timeout', '', now_ + coalesce(p_delay, '0') + p_run_timeout);
	END IF;
	IF p_execution_deadline IS NOT NULL THEN
		PERFORM durable._set_timer(p_run, 'workflow_execution_timeout', '', p_execution_deadline);
	END IF;
END
$$;

/*
 * The events that open a workflow task's outcome: the transient
 * WorkflowTaskScheduled if any, then WorkflowTaskStarted; not yet written.
 */
CREATE FUNCTION durable._wft_opening(w durable.workflows, t durable.tasks, p_identity text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
	evs jsonb := '[]';
	seid bigint := w.wft_scheduled_event_id;
BEGIN
	IF seid IS NULL THEN
		seid := w.history_length + 1;
		evs := jsonb_build_array(jsonb_build_object('event_type', 'WorkflowTaskScheduled',
			'event_time', w.wft_scheduled_time,
			'attributes', jsonb_build_object('task_queue', w.task_queue,
				'start_to_close_timeout', durable._duration(w.task_timeout), 'attempt', w.wft_attempt)));
	END IF;
	RETURN evs || jsonb_build_array(jsonb_build_object('event_type', 'WorkflowTaskStarted',
		'event_time', coalesce(t.started_time, clock_timestamp()),
		'attributes', jsonb_build_object('scheduled_event_id', seid,
			'identity', coalesce(p_identity, t.worker_id))));
END
$$;

/*
 * Write the events that open a workflow task's outcome (_wft_opening).
 * Returns the started event id.
 */
CREATE OR REPLACE FUNCTION durable._wft_started_events(w durable.workflows, t durable.tasks, p_identity text)
RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
	RETURN durable._append(w.run_id, durable._wft_opening(w, t, p_identity));
END
$$;

/*
 * Lock the run a workflow task token names and take the task's lease off
 * the queue (the caller completes or fails the task), or raise
 * stale_task_token.  Returns the run and the lease (if the queue still had
 * one: after a crash it may not).
 */
CREATE OR REPLACE FUNCTION durable._lock_wft(p_token text, OUT w durable.workflows, OUT t durable.tasks)
LANGUAGE plpgsql AS $$
DECLARE
	tok record;
	started bigint;
BEGIN
	tok := durable._parse_token(p_token);
	IF tok.kind <> 'workflow' THEN
		PERFORM durable._error('22023', format('task token is for a task of kind %s, not workflow', tok.kind), NULL,
			'Use durable.complete_activity or durable.fail_activity for activity tasks.');
	END IF;
	SELECT * INTO w FROM durable.workflows WHERE run_id = tok.run_id FOR UPDATE;
	IF NOT FOUND THEN
		PERFORM durable._stale(p_token, 'The run does not exist.');
	END IF;
	IF w.status <> 'running' THEN
		PERFORM durable._stale(p_token, format('The run is %s.', w.status));
	END IF;
	-- the started event id the task was handed out with must still be next
	started := w.history_length + 1;
	IF w.wft_scheduled_event_id IS NULL THEN
		started := started + 1;
	END IF;
	IF w.wft_state <> 'scheduled' OR w.wft_seq <> tok.n1 OR started <> tok.n2 THEN
		PERFORM durable._stale(p_token, 'The workflow task is no longer outstanding.');
	END IF;
	-- the task ends here, completed or failed: take its lease off the queue
	DELETE FROM durable.tasks WHERE run_id = w.run_id AND scheduled_event_id = 0 RETURNING * INTO t;
	-- WorkflowTaskStarted records the time the worker was given (its
	-- workflow clock), which the lease loses in a crash but the token keeps
	t.started_time := to_timestamp(tok.n3 / 1000000.0);
END
$$;

--------------------------------------------------------------------------
-- Activities
--------------------------------------------------------------------------

/*
 * Close an activity: write ActivityTaskStarted (if an attempt was running)
 * and the closing event, delivered like any outside event, and forget the
 * activity.  With p_worker, the workflow task the delivery makes ready is
 * started for that worker and returned (see _deliver).
 */
DROP FUNCTION durable._close_activity(durable.activities, text, text, jsonb, boolean);
CREATE FUNCTION durable._close_activity(a durable.activities, p_identity text, p_event_type text,
										p_attributes jsonb, p_started boolean DEFAULT true,
										p_worker text DEFAULT NULL) RETURNS durable.task
LANGUAGE plpgsql AS $$
DECLARE
	evs jsonb;
BEGIN
	DELETE FROM durable.activities WHERE run_id = a.run_id AND scheduled_event_id = a.scheduled_event_id;
	DELETE FROM durable.tasks WHERE run_id = a.run_id AND scheduled_event_id = a.scheduled_event_id;
	-- its timers: a schedule-to-close deadline, a retry while backing off
	IF a.expiration_time IS NOT NULL OR a.state = 'backoff' THEN
		DELETE FROM durable.timers WHERE run_id = a.run_id AND kind IN ('activity_retry', 'activity_schedule_to_close')
			AND timer_id = a.scheduled_event_id::text;
	END IF;
	evs := jsonb_build_array(jsonb_build_object('event_type', p_event_type,
		'attributes', p_attributes || jsonb_build_object('scheduled_event_id', a.scheduled_event_id,
			'started_event_id', CASE WHEN p_started THEN to_jsonb('previous'::text) END)));
	IF p_started THEN
		-- the attempt's start is recorded only now, with the attempt that closed it
		evs := jsonb_build_array(jsonb_build_object('event_type', 'ActivityTaskStarted',
			'attributes', jsonb_build_object('scheduled_event_id', a.scheduled_event_id,
				'identity', coalesce(p_identity, a.last_worker_id), 'attempt', a.attempt,
				'last_failure', a.last_failure))) || evs;
	END IF;
	RETURN durable._deliver(a.run_id, evs, p_worker);
END
$$;

/*
 * An activity attempt failed or timed out: schedule the next attempt after
 * its backoff, or close the activity.  Caller holds the run's lock.  With
 * p_worker, a workflow task the close schedules is started for that worker
 * and returned (see _deliver).
 */
DROP FUNCTION durable._activity_attempt_failed(durable.activities, jsonb, text, boolean);
CREATE FUNCTION durable._activity_attempt_failed(a durable.activities, p_failure jsonb, p_identity text,
												 p_timeout boolean, p_worker text DEFAULT NULL)
RETURNS durable.task
LANGUAGE plpgsql AS $$
DECLARE
	r record;
BEGIN
	SELECT * INTO r FROM durable._retry_backoff(a.retry_policy, a.attempt, p_failure, a.expiration_time,
												a.cancel_requested_event_id IS NOT NULL);
	IF r.backoff IS NULL THEN
		IF p_timeout THEN
			RETURN durable._close_activity(a, p_identity, 'ActivityTaskTimedOut',
				jsonb_build_object('failure', p_failure, 'retry_state', r.retry_state), true, p_worker);
		END IF;
		RETURN durable._close_activity(a, p_identity, 'ActivityTaskFailed',
			jsonb_build_object('failure', p_failure, 'identity', p_identity, 'retry_state', r.retry_state),
			true, p_worker);
	END IF;
	DELETE FROM durable.tasks WHERE run_id = a.run_id AND scheduled_event_id = a.scheduled_event_id;
	UPDATE durable.activities
	SET attempt = attempt + 1, state = 'backoff', last_failure = p_failure,
		last_worker_id = coalesce(p_identity, last_worker_id)
	WHERE run_id = a.run_id AND scheduled_event_id = a.scheduled_event_id;
	PERFORM durable._set_timer(a.run_id, 'activity_retry', a.scheduled_event_id::text,
							   clock_timestamp() + r.backoff);
	RETURN NULL;
END
$$;

/*
 * The worker a completion may hand the workflow task to: the one that held
 * the activity, if it asked and polls the workflow's queue; else NULL.
 */
CREATE FUNCTION durable._eager_worker(p_asked boolean, w durable.workflows, a durable.activities,
									  t durable.tasks) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	IF p_asked AND a.task_queue = w.task_queue THEN
		RETURN t.worker_id;
	END IF;
	RETURN NULL;
END
$$;

/*
 * The result of an activity completion: NULL unless the caller asked for
 * the workflow task, else {"tasks": [...]}.  Results are json, not jsonb:
 * a task carries the run's history, and json wraps it as the text it is
 * sent as, where every jsonb layer would rebuild it.
 */
CREATE FUNCTION durable._tasks_result(p_asked boolean, r durable.task) RETURNS json
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	IF p_asked IS NOT TRUE THEN
		RETURN NULL;		-- not asked (NULL counts as false, as in _eager_worker)
	END IF;
	IF r.task_token IS NULL THEN
		RETURN '{"tasks": []}'::json;
	END IF;
	RETURN json_build_object('tasks', json_build_array(to_json(r)));
END
$$;

DROP FUNCTION durable.complete_activity(text, jsonb);
CREATE FUNCTION durable.complete_activity(
	task_token text,
	result jsonb DEFAULT NULL,
	return_workflow_task boolean DEFAULT false) RETURNS json
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	lk record;
	r durable.task;
BEGIN
	PERFORM durable._check_payload(complete_activity.result, 'result');
	lk := durable._lock_activity(complete_activity.task_token);
	r := durable._close_activity(lk.a, (lk.t).worker_id, 'ActivityTaskCompleted',
		jsonb_build_object('result', complete_activity.result, 'identity', (lk.t).worker_id), true,
		durable._eager_worker(complete_activity.return_workflow_task, lk.w, lk.a, lk.t));
	RETURN durable._tasks_result(complete_activity.return_workflow_task, r);
END
$$;
COMMENT ON FUNCTION durable.complete_activity IS 'Complete an activity attempt with its result. Atomic with the caller''s own writes in the same transaction. With return_workflow_task, returns {"tasks": [...]} holding the workflow task it scheduled, started for the same worker; else NULL.';

DROP FUNCTION durable.fail_activity(text, jsonb);
CREATE FUNCTION durable.fail_activity(
	task_token text,
	failure jsonb,
	return_workflow_task boolean DEFAULT false) RETURNS json
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	lk record;
	f jsonb;
	r durable.task;
BEGIN
	f := durable._failure(fail_activity.failure, 'failure');
	lk := durable._lock_activity(fail_activity.task_token);
	r := durable._activity_attempt_failed(lk.a, f, (lk.t).worker_id, false,
		durable._eager_worker(fail_activity.return_workflow_task, lk.w, lk.a, lk.t));
	RETURN durable._tasks_result(fail_activity.return_workflow_task, r);
END
$$;
COMMENT ON FUNCTION durable.fail_activity IS 'Fail an activity attempt; it is retried as its retry policy says. With return_workflow_task, returns {"tasks": [...]} holding the workflow task it scheduled (when the activity closed), started for the same worker; else NULL.';

--------------------------------------------------------------------------
-- Workflow task completion
--------------------------------------------------------------------------

-- Reject fields a command does not have.
CREATE OR REPLACE FUNCTION durable._cmd_fields(p_cmd jsonb, p_index integer, p_allowed text[]) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	k text;
BEGIN
	IF (p_cmd - p_allowed) - 'type' = '{}'::jsonb THEN
		RETURN;		-- the common case, without a query
	END IF;
	FOR k IN SELECT jsonb_object_keys(p_cmd) LOOP
		IF k <> 'type' AND NOT k = ANY (p_allowed) THEN
			PERFORM durable._error('DU005', format('command %s (%s) has unknown field "%s"', p_index, p_cmd->>'type', k),
				left(p_cmd::text, 200), format('Its fields are: %s.', array_to_string(p_allowed, ', ')));
		END IF;
	END LOOP;
END
$$;

/*
 * The schedule_activity command: check it, make the activity and its task,
 * and return its ActivityTaskScheduled event, whose id is p_seid, for the
 * caller to write.  With p_worker and request_eager_execution on the
 * workflow's own queue the activity is started for p_worker and returned
 * as task (eager dispatch).
 */
DROP FUNCTION durable._cmd_schedule_activity(durable.workflows, jsonb, integer, bigint);
CREATE FUNCTION durable._cmd_schedule_activity(w durable.workflows, p_cmd jsonb, p_index integer,
											   p_completed bigint, p_seid bigint, p_worker text,
											   OUT event jsonb, OUT task durable.task)
LANGUAGE plpgsql AS $$
DECLARE
	aid text;
	atype text;
	queue text;
	s2close interval;
	s2start interval;
	s2c interval;
	hb interval;
	run_left interval;
	policy jsonb;
	prio integer;
	a durable.activities;
	lease timestamptz;
	now_ timestamptz := clock_timestamp();
	what text := format('command %s (schedule_activity)', p_index);
BEGIN
	PERFORM durable._cmd_fields(p_cmd, p_index, '{activity_id,activity_type,input,task_queue,schedule_to_close_timeout,schedule_to_start_timeout,start_to_close_timeout,heartbeat_timeout,retry_policy,priority,request_eager_execution}');
	aid := durable._check_id(durable._cmd_text(p_cmd, 'activity_id', p_index, true), 'activity_id of ' || what);
	atype := durable._check_id(durable._cmd_text(p_cmd, 'activity_type', p_index, true), 'activity_type of ' || what);
	queue := coalesce(durable._check_id(durable._cmd_text(p_cmd, 'task_queue', p_index, false), 'task_queue of ' || what),
					  w.task_queue);
	PERFORM durable._check_payload(p_cmd->'input', 'input of ' || what);
	s2close := nullif(durable._cmd_interval(p_cmd, 'schedule_to_close_timeout', p_index), '0');
	s2start := nullif(durable._cmd_interval(p_cmd, 'schedule_to_start_timeout', p_index), '0');
	s2c := nullif(durable._cmd_interval(p_cmd, 'start_to_close_timeout', p_index), '0');
	hb := nullif(durable._cmd_interval(p_cmd, 'heartbeat_timeout', p_index), '0');
	IF p_cmd ? 'priority' AND jsonb_typeof(p_cmd->'priority') <> 'null' THEN
		IF jsonb_typeof(p_cmd->'priority') <> 'number' THEN
			PERFORM durable._error('DU005', format('field "priority" of %s must be a number', what));
		END IF;
		prio := (p_cmd->>'priority')::integer;
	ELSE
		prio := w.priority;
	END IF;
	IF jsonb_typeof(p_cmd->'request_eager_execution') NOT IN ('boolean', 'null') THEN
		PERFORM durable._error('DU005', format('field "request_eager_execution" of %s must be a boolean', what));
	END IF;
	policy := durable._retry_policy(p_cmd->'retry_policy', 'retry_policy of ' || what);

	-- Temporal's normalisation of the four timeouts
	IF w.run_timeout IS NOT NULL THEN
		run_left := w.run_timeout;
	END IF;
	IF s2close IS NOT NULL THEN
		s2start := least(coalesce(s2start, s2close), s2close);
		s2c := least(coalesce(s2c, s2close), s2close);
	ELSIF s2c IS NOT NULL THEN
		s2close := run_left;
		s2start := coalesce(s2start, run_left);
	ELSE
		PERFORM durable._error('DU005', format('%s needs start_to_close_timeout or schedule_to_close_timeout', what),
			left(p_cmd::text, 200), 'Set start_to_close_timeout, as Temporal requires.');
	END IF;
	IF run_left IS NOT NULL THEN
		s2close := least(s2close, run_left);
		s2start := least(s2start, run_left);
		s2c := least(s2c, run_left);
	END IF;
	IF hb IS NOT NULL THEN
		hb := least(hb, s2c);
	END IF;

	INSERT INTO durable.activities (run_id, scheduled_event_id, activity_id, activity_type, task_queue, input,
		priority, schedule_to_close_timeout, schedule_to_start_timeout, start_to_close_timeout, heartbeat_timeout,
		retry_policy, scheduled_time, expiration_time, ready_time)
	VALUES (w.run_id, p_seid, aid, atype, queue, p_cmd->'input', prio, s2close, s2start, s2c, hb, policy,
		now_, now_ + s2close, now_)
	ON CONFLICT (run_id, activity_id) DO NOTHING
	RETURNING * INTO a;
	IF NOT FOUND THEN
		PERFORM durable._error('DU006', format('activity id "%s" is already in use', aid),
			format('%s schedules an activity whose id another pending activity of run %s has.', what, w.run_id),
			'Use a unique activity id for each pending activity.');
	END IF;
	IF p_worker IS NOT NULL AND p_cmd->'request_eager_execution' = 'true' AND queue = w.task_queue THEN
		-- eager: started now for the worker completing the workflow task
		lease := least(now_ + s2c, now_ + hb);
		PERFORM durable._enqueue(w.run_id, p_seid, 'activity', queue, prio, NULL, p_worker, now_, lease);
		task := durable._activity_task(w, a, now_, lease);
	ELSE
		PERFORM durable._enqueue(w.run_id, p_seid, 'activity', queue, prio, now_ + s2start);
	END IF;
	IF s2close IS NOT NULL THEN
		PERFORM durable._set_timer(w.run_id, 'activity_schedule_to_close', p_seid::text, now_ + s2close);
	END IF;
	event := jsonb_build_object('event_type', 'ActivityTaskScheduled',
		'attributes', jsonb_build_object('activity_id', aid, 'activity_type', atype, 'task_queue', queue,
			'input', p_cmd->'input',
			'schedule_to_close_timeout', durable._duration(s2close),
			'schedule_to_start_timeout', durable._duration(s2start),
			'start_to_close_timeout', durable._duration(s2c),
			'heartbeat_timeout', durable._duration(hb),
			'retry_policy', policy, 'workflow_task_completed_event_id', p_completed));
END
$$;


/*
 * Write the events a workflow task completion gathered, from event id
 * p_first on, and mark the task done in the run's row: one update, one
 * insert.
 */
CREATE FUNCTION durable._write_wft_events(p_run uuid, p_first bigint, p_events jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE durable.workflows
	SET history_length = p_first - 1 + jsonb_array_length(p_events),
		wft_state = 'none', wft_scheduled_event_id = NULL
	WHERE run_id = p_run;
	PERFORM durable._insert_events(p_run, p_first, p_events);
END
$$;

/*
 * Complete a workflow task: check the commands, gather the task's events
 * and each command's event and apply the commands, write the events, then
 * the events buffered while the task ran (and a new task for them).  With
 * return_workflow_task that new task is started for the same worker, as
 * are activities scheduled with request_eager_execution on the workflow's
 * queue (unless the task closes the run); they are returned in "tasks".
 */
DROP FUNCTION durable.complete_workflow_task(text, jsonb);
CREATE FUNCTION durable.complete_workflow_task(
	task_token text,
	commands jsonb DEFAULT '[]',
	return_workflow_task boolean DEFAULT false) RETURNS json
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	lk record;
	w durable.workflows;
	t durable.tasks;
	cmd jsonb;
	cmds jsonb := commands;
	n integer;
	ctype text;
	started bigint;
	completed bigint;
	closing text := NULL;
	worker text;
	buffered jsonb;
	needs_task boolean := false;
	tid text;
	dur interval;
	seid bigint;
	f jsonb;
	next_run uuid;
	attrs jsonb;
	sa jsonb;
	evs jsonb;				-- events gathered, not yet written
	first_id bigint;		-- id of the first of them
	ev jsonb;
	sa_res record;
	eager_worker text;		-- who eager activities go to: the worker, unless the task closes the run
	tasks json[] := '{}';
	r durable.task;
BEGIN
	lk := durable._lock_wft(complete_workflow_task.task_token);
	w := lk.w;
	t := lk.t;
	worker := t.worker_id;

	-- validate the shape of the command list before anything is written
	IF cmds IS NULL THEN
		cmds := '[]';
	END IF;
	IF jsonb_typeof(cmds) <> 'array' THEN
		PERFORM durable._error('DU005', format('commands must be a JSON array, not %s', jsonb_typeof(cmds)),
			NULL, 'Pass an array of command objects, e.g. ''[{"type": "complete_workflow", "result": 1}]''.');
	END IF;
	n := jsonb_array_length(cmds);
	FOR i IN 1..n LOOP
		cmd := cmds->(i - 1);
		IF jsonb_typeof(cmd) <> 'object' THEN
			PERFORM durable._error('DU005', format('command %s must be a JSON object, not %s', i, jsonb_typeof(cmd)));
		END IF;
		IF NOT cmd ? 'type' OR jsonb_typeof(cmd->'type') <> 'string' THEN
			PERFORM durable._error('DU005', format('command %s has no "type"', i), left(cmd::text, 200),
				'Each command is an object with a "type" such as "schedule_activity".');
		END IF;
		ctype := cmd->>'type';
		IF NOT ctype = ANY ('{schedule_activity,request_cancel_activity,start_timer,cancel_timer,record_marker,complete_workflow,fail_workflow,cancel_workflow,continue_as_new,upsert_search_attributes}'::text[]) THEN
			PERFORM durable._error('DU005', format('command %s has unknown type "%s"', i, left(ctype, 100)), NULL,
				'Command types are schedule_activity, request_cancel_activity, start_timer, cancel_timer, record_marker, upsert_search_attributes, complete_workflow, fail_workflow, cancel_workflow and continue_as_new.');
		END IF;
		IF ctype IN ('complete_workflow', 'fail_workflow', 'cancel_workflow', 'continue_as_new') THEN
			IF i <> n THEN
				PERFORM durable._error('DU005', format('command %s (%s) closes the workflow but is not the last command', i, ctype),
					NULL, 'A close command must be the last command.');
			END IF;
			closing := ctype;
		END IF;
	END LOOP;

	-- a close while new events wait: Temporal's UnhandledCommand
	IF closing IS NOT NULL THEN
		IF EXISTS (SELECT 1 FROM durable.buffered_events b WHERE b.run_id = w.run_id) THEN
			PERFORM durable._wft_failed(w, t, 'WorkflowTaskFailed',
				jsonb_build_object('cause', 'UnhandledCommand',
					'failure', jsonb_build_object('message', 'new events arrived while the workflow task ran',
												  'type', 'UnhandledCommand', 'non_retryable', false, 'details', NULL),
					'identity', worker), worker);
			RETURN '{"outcome": "unhandled_command"}'::json;
		END IF;
	END IF;

	first_id := w.history_length + 1;
	evs := durable._wft_opening(w, t, worker);
	started := first_id + jsonb_array_length(evs) - 1;
	completed := started + 1;
	evs := evs || jsonb_build_array(jsonb_build_object('event_type', 'WorkflowTaskCompleted',
		'attributes', jsonb_build_object('scheduled_event_id', coalesce(w.wft_scheduled_event_id, started - 1),
										 'started_event_id', started, 'identity', worker)));

	/*
	 * Each command adds one event to evs.  The few that write history on
	 * their own (request_cancel_activity, fail_workflow) first write what
	 * was gathered; closing commands write it before closing the run.
	 */
	IF closing IS NULL THEN
		eager_worker := worker;
	END IF;
	FOR i IN 1..n LOOP
		cmd := cmds->(i - 1);
		ctype := cmd->>'type';
		IF ctype IN ('request_cancel_activity', 'fail_workflow') THEN
			IF jsonb_array_length(evs) > 0 THEN
				PERFORM durable._write_wft_events(w.run_id, first_id, evs);
				evs := '[]';
			END IF;
		END IF;
		ev := NULL;
		CASE ctype
		WHEN 'schedule_activity' THEN
			sa_res := durable._cmd_schedule_activity(w, cmd, i, completed, first_id + jsonb_array_length(evs),
													 eager_worker);
			ev := sa_res.event;
			IF (sa_res.task).task_token IS NOT NULL THEN
				tasks := tasks || to_json(sa_res.task);
			END IF;
		WHEN 'request_cancel_activity' THEN
			IF durable._cmd_request_cancel_activity(w, cmd, i, completed) THEN
				needs_task := true;
			END IF;
		WHEN 'start_timer' THEN
			PERFORM durable._cmd_fields(cmd, i, '{timer_id,duration}');
			tid := durable._check_id(durable._cmd_text(cmd, 'timer_id', i, true), format('timer_id of command %s', i));
			dur := durable._interval(durable._cmd_text(cmd, 'duration', i, true), format('field "duration" of command %s (start_timer)', i));
			IF dur <= '0'::interval THEN
				PERFORM durable._error('DU005', format('field "duration" of command %s (start_timer) must be positive', i));
			END IF;
			IF EXISTS (SELECT 1 FROM durable.timers tm WHERE tm.run_id = w.run_id AND tm.kind = 'user' AND tm.timer_id = tid) THEN
				PERFORM durable._error('DU006', format('timer id "%s" is already in use', tid),
					format('Command %s starts a timer whose id a pending timer of run %s has.', i, w.run_id),
					'Use a unique timer id for each pending timer.');
			END IF;
			seid := first_id + jsonb_array_length(evs);
			ev := jsonb_build_object('event_type', 'TimerStarted',
				'attributes', jsonb_build_object('timer_id', tid, 'start_to_fire_timeout', durable._duration(dur),
												 'workflow_task_completed_event_id', completed));
			PERFORM durable._set_timer(w.run_id, 'user', tid, clock_timestamp() + dur, seid);
		WHEN 'cancel_timer' THEN
			PERFORM durable._cmd_fields(cmd, i, '{timer_id}');
			tid := durable._cmd_text(cmd, 'timer_id', i, true);
			DELETE FROM durable.timers tm WHERE tm.run_id = w.run_id AND tm.kind = 'user' AND tm.timer_id = tid
			RETURNING tm.started_event_id INTO seid;
			IF NOT FOUND THEN
				-- fired while this task ran: as Temporal does, the cancel wins and the
				-- buffered TimerFired is dropped
				DELETE FROM durable.buffered_events b
				WHERE b.run_id = w.run_id AND b.event_type = 'TimerFired' AND b.attributes->>'timer_id' = tid
				RETURNING (b.attributes->>'started_event_id')::bigint INTO seid;
			END IF;
			IF NOT FOUND THEN
				PERFORM durable._error('DU005', format('command %s (cancel_timer) names unknown timer "%s"', i, tid),
					'No pending timer of the run has this id.', 'Cancel only timers that have not fired.');
			END IF;
			ev := jsonb_build_object('event_type', 'TimerCanceled',
				'attributes', jsonb_build_object('timer_id', tid, 'started_event_id', seid,
												 'workflow_task_completed_event_id', completed));
		WHEN 'record_marker' THEN
			PERFORM durable._cmd_fields(cmd, i, '{marker_name,details}');
			PERFORM durable._check_payload(cmd->'details', format('details of command %s', i));
			ev := jsonb_build_object('event_type', 'MarkerRecorded',
				'attributes', jsonb_build_object('marker_name', durable._cmd_text(cmd, 'marker_name', i, true),
					'details', cmd->'details', 'workflow_task_completed_event_id', completed));
		WHEN 'upsert_search_attributes' THEN
			PERFORM durable._cmd_fields(cmd, i, '{search_attributes}');
			sa := cmd->'search_attributes';
			IF sa IS NULL OR jsonb_typeof(sa) <> 'object' THEN
				PERFORM durable._error('DU005', format('field "search_attributes" of command %s must be a JSON object', i));
			END IF;
			ev := jsonb_build_object('event_type', 'UpsertWorkflowSearchAttributes',
				'attributes', jsonb_build_object('search_attributes', sa, 'workflow_task_completed_event_id', completed));
			UPDATE durable.workflows
			SET search_attributes = jsonb_strip_nulls(search_attributes || sa)
			WHERE run_id = w.run_id;
			PERFORM durable._check_payload((SELECT search_attributes FROM durable.workflows WHERE run_id = w.run_id),
										   'search_attributes');
		WHEN 'complete_workflow' THEN
			PERFORM durable._cmd_fields(cmd, i, '{result}');
			PERFORM durable._check_payload(cmd->'result', 'result');
			PERFORM durable._write_wft_events(w.run_id, first_id, evs || jsonb_build_array(jsonb_build_object(
				'event_type', 'WorkflowExecutionCompleted',
				'attributes', jsonb_build_object('result', cmd->'result', 'workflow_task_completed_event_id', completed))));
			evs := '[]';
			PERFORM durable._close_run(w.run_id, 'completed', cmd->'result', NULL);
		WHEN 'fail_workflow' THEN
			PERFORM durable._cmd_fields(cmd, i, '{failure}');
			IF NOT cmd ? 'failure' THEN
				PERFORM durable._error('DU005', format('command %s (fail_workflow) is missing field "failure"', i));
			END IF;
			f := durable._failure(cmd->'failure', format('failure of command %s', i));
			PERFORM durable._fail_run(w.run_id, 'failed', 'WorkflowExecutionFailed',
									  jsonb_build_object('failure', f), f, completed);
		WHEN 'cancel_workflow' THEN
			PERFORM durable._cmd_fields(cmd, i, '{details}');
			PERFORM durable._check_payload(cmd->'details', 'details');
			PERFORM durable._write_wft_events(w.run_id, first_id, evs || jsonb_build_array(jsonb_build_object(
				'event_type', 'WorkflowExecutionCanceled',
				'attributes', jsonb_build_object('details', cmd->'details', 'workflow_task_completed_event_id', completed))));
			evs := '[]';
			PERFORM durable._close_run(w.run_id, 'canceled', NULL,
				jsonb_build_object('message', 'workflow canceled', 'type', 'CanceledFailure',
								   'non_retryable', true, 'details', cmd->'details'));
		WHEN 'continue_as_new' THEN
			PERFORM durable._cmd_fields(cmd, i, '{input,workflow_type,task_queue,run_timeout,task_timeout}');
			PERFORM durable._check_payload(cmd->'input', 'input');
			next_run := gen_random_uuid();
			attrs := jsonb_build_object('new_execution_run_id', next_run,
				'workflow_type', coalesce(durable._check_id(durable._cmd_text(cmd, 'workflow_type', i, false), 'workflow_type'), w.workflow_type),
				'task_queue', coalesce(durable._check_id(durable._cmd_text(cmd, 'task_queue', i, false), 'task_queue'), w.task_queue),
				'input', cmd->'input',
				'workflow_run_timeout', durable._duration(coalesce(durable._cmd_interval(cmd, 'run_timeout', i), w.run_timeout)),
				'workflow_task_timeout', durable._duration(coalesce(durable._cmd_interval(cmd, 'task_timeout', i), w.task_timeout)),
				'workflow_task_completed_event_id', completed);
			PERFORM durable._write_wft_events(w.run_id, first_id, evs || jsonb_build_array(jsonb_build_object(
				'event_type', 'WorkflowExecutionContinuedAsNew', 'attributes', attrs)));
			evs := '[]';
			PERFORM durable._close_run(w.run_id, 'continued_as_new', NULL, NULL, next_run);
			SELECT * INTO w FROM durable.workflows WHERE run_id = w.run_id;
			PERFORM durable._start_run(next_run, w.workflow_id, attrs->>'workflow_type', attrs->>'task_queue',
				cmd->'input', w.execution_timeout,
				coalesce(durable._cmd_interval(cmd, 'run_timeout', i), w.run_timeout),
				coalesce(nullif(durable._cmd_interval(cmd, 'task_timeout', i), '0'), w.task_timeout),
				w.execution_deadline, w.first_run_id, w.run_id, 1, w.retry_policy, NULL, NULL,
				w.search_attributes, w.memo, w.priority, worker, NULL);
		END CASE;
		IF ev IS NOT NULL THEN
			evs := evs || jsonb_build_array(ev);
		END IF;
		IF ctype IN ('request_cancel_activity', 'fail_workflow') THEN
			-- it wrote events of its own: gather on from the new end of history
			SELECT history_length + 1 INTO first_id FROM durable.workflows WHERE run_id = w.run_id;
		END IF;
	END LOOP;
	IF jsonb_array_length(evs) > 0 THEN
		PERFORM durable._write_wft_events(w.run_id, first_id, evs);
	END IF;

	IF closing IS NULL THEN
		buffered := durable._take_buffer(w.run_id);
		IF buffered IS NOT NULL OR needs_task THEN
			SELECT * INTO w FROM durable.workflows WHERE run_id = w.run_id;
			r := durable._schedule_wft(w, 1, true, coalesce(buffered, '[]'),
				CASE WHEN complete_workflow_task.return_workflow_task THEN worker END);
			IF r.task_token IS NOT NULL THEN
				tasks := tasks || to_json(r);
			END IF;
		END IF;
	END IF;
	IF cardinality(tasks) > 0 THEN
		RETURN json_build_object('outcome', 'completed', 'tasks', tasks);
	END IF;
	RETURN '{"outcome": "completed"}'::json;
END
$$;
COMMENT ON FUNCTION durable.complete_workflow_task IS 'Complete a workflow task with a JSON array of commands (docs/protocol.md); returns {"outcome": ...} and, in "tasks", any tasks handed out eagerly.';

--------------------------------------------------------------------------
-- Privileges of the new and re-created functions
--------------------------------------------------------------------------

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA durable FROM PUBLIC;

GRANT EXECUTE ON FUNCTION
	durable.complete_workflow_task(text, jsonb, boolean),
	durable.complete_activity(text, jsonb, boolean),
	durable.fail_activity(text, jsonb, boolean)
	TO durable_worker;
