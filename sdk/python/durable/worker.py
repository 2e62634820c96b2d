"""The worker: polls a task queue and runs workflow, query and activity tasks
(docs/protocol.md, "The worker loop"); and the Replayer.

    worker = Worker(client, task_queue="orders", workflows=[Order], activities=[charge])
    await worker.run()          # until cancelled or worker.shutdown()

Invariants:
- Workflow tasks: `max_concurrent_workflow_tasks` slots, each one connection
  polling `{workflow}` (which also brings queries) and running one task at a
  time. Polls wait server-side (`wait`), so an idle worker sends one
  statement per poller per `poll_wait`.
- Activities: at most `max_concurrent_activities` run at once, each holding
  one permit. `max_concurrent_activity_task_polls` pollers take a permit
  *before* they poll (so a claimed task always has one) and hand the task
  to a runner; a runner runs the activity on a connection of the worker's
  pool and completes it there.
- Polls and completions run in autocommit: a claim commits before the task
  runs. An activity that opened `activity.connection()` completes in that
  connection's transaction instead.
- Eager dispatch: a workflow task's completion asks for the activities it
  schedules on this queue only while permits are free (one reserved per
  activity, given back for any the engine does not hand out), and every
  completion asks for the run's next workflow task. Handed-back activities
  go to runners, so activities a workflow gathers run side by side and the
  workflow slot is free at once; a runner runs the workflow task its
  activity's completion hands back, and then that task's one activity
  itself, so a chain of activities continues on one connection with no
  poll.
- Sticky execution: the worker keeps up to `max_cached_workflows` runs'
  instances between their tasks (least recently used first out) and sets
  `durable.sticky_execution` on its connections, so a run's next task
  comes to it first and carries only the events after its last task. A
  task whose history does not continue the cached state (docs/protocol.md,
  "The procedure", step 2) drops it and replays the whole history (fetched
  with `workflow_task_history` when the task's is short). A failed task,
  a refused completion or a closed run drops the run's instance.
- Shutdown: stop polling (cancelling waiting polls), let running tasks finish
  within `graceful_shutdown_timeout`, cancel the rest, give back what the
  worker still holds (`durable.release_tasks`), close the session.
"""
from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextvars
import inspect
import json
import logging
import os
import re
import socket
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Optional, Sequence

import psycopg

from . import _runtime, activity as _activity, converter
from .common import to_seconds
from .exceptions import error_to_failure, map_error
from .workflow import definition_of

log = logging.getLogger("durable.worker")

_POLL = ("SELECT to_json(t) FROM durable.poll_task(task_queue => %s, worker_id => %s, kinds => %s::text[], "
         "wait => %s::float8 * interval '1 second', namespace => %s, build_id => %s) t")
_COMPLETE_WFT = "SELECT durable.complete_workflow_task(%s, %s::jsonb, return_workflow_task => %s)"
_FAIL_WFT = "SELECT durable.fail_workflow_task(%s, %s::jsonb)"
_WFT_HISTORY = "SELECT durable.workflow_task_history(%s)"
_COMPLETE_ACT = "SELECT durable.complete_activity(%s, %s::jsonb, return_workflow_task => %s)"
_FAIL_ACT = "SELECT durable.fail_activity(%s, %s::jsonb, return_workflow_task => %s)"
_HEARTBEAT = "SELECT durable.heartbeat_activity(%s, %s::jsonb)"
_CANCELED_ACT = "SELECT durable.report_activity_canceled(%s, %s)"
_ANSWER = "SELECT durable.answer_query(%s, %s::jsonb, %s::jsonb)"
_RELEASE = "SELECT durable.release_tasks(%s, %s, %s)"
_COMPLETE_WFT_FORCED = "SELECT durable.complete_workflow_task(%s, %s::jsonb, return_workflow_task => true, " \
                       "force_new_task => true)"
_STMT_NAMES = {q: f"durable_py_{i}".encode() for i, q in enumerate(
    (_POLL, _COMPLETE_WFT, _FAIL_WFT, _WFT_HISTORY, _COMPLETE_ACT, _FAIL_ACT, _HEARTBEAT, _CANCELED_ACT, _ANSWER,
     _COMPLETE_WFT_FORCED))}
# share of the workflow task timeout after which a task running local activities is completed to keep it alive
_WFT_HEARTBEAT_SHARE = 0.8
_LOCAL_CANCELLED = {"message": "Local activity cancelled", "type": "CancelledFailure", "non_retryable": True}
_JSON_OID, _JSONB_OID, _BOOL_OID = 114, 3802, 16
try:
    from psycopg import generators as _generators, pq as _pq
except ImportError:                 # a psycopg without them: the cursor path
    _generators = None


# one heartbeat detail is stored as itself (as the TypeScript SDK's single
# detail); several as {"__durable_details": [...]}, read back as the list
_DETAILS = "__durable_details"

# payloads go as JSON text cast to jsonb: cheaper to send than psycopg's Jsonb wrapper
_json = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode


def _heartbeat_details(v) -> list:
    if v is None:
        return []
    if isinstance(v, dict) and list(v) == [_DETAILS] and isinstance(v[_DETAILS], list):
        return list(v[_DETAILS])
    return [v]


def _ts(v) -> Optional[datetime]:
    return datetime.fromisoformat(v) if isinstance(v, str) else v


def _text(v) -> Optional[bytes]:
    """A parameter in text format: the worker's statements take text, JSON
    text, booleans, numbers and text arrays only."""
    if v is None:
        return None
    if isinstance(v, bool):
        return b"t" if v else b"f"
    if isinstance(v, (list, tuple)):
        return ("{" + ",".join(v) + "}").encode()
    return str(v).encode()


async def _call(conn, query: str, params: tuple):
    """Run one of the worker's statements and return its single value (JSON
    decoded). On the hot path the statement is prepared once per
    connection and sent through libpq directly (psycopg's `pgconn`),
    which costs about a third less CPU than a cursor (psycopg's Python
    implementation is what Debian ships); without psycopg's generators
    module it goes through a cursor."""
    if _generators is None:
        cur = conn.cursor()
        await cur.execute(query, params)
        row = await cur.fetchone()
        return row[0] if row else None
    pg = conn.pgconn
    prepared = getattr(conn, "_durable_prepared", None)
    if prepared is None:
        prepared = conn._durable_prepared = set()
    name = _STMT_NAMES[query]
    if name not in prepared:
        pg.send_prepare(name, _dollar(query).encode())
        await _result(conn)
        prepared.add(name)
    pg.send_query_prepared(name, [_text(p) for p in params])
    res = await _result(conn)
    if res.ntuples == 0 or res.nfields == 0:
        return None
    v = res.get_value(0, 0)
    if v is None:
        return None
    return json.loads(v) if res.ftype(0) in (_JSON_OID, _JSONB_OID) else v == b"t" if res.ftype(0) == _BOOL_OID else v.decode()


async def _result(conn):
    results = await conn.wait(_generators.execute(conn.pgconn))
    res = results[-1]
    if res.status == _pq.ExecStatus.FATAL_ERROR:
        raise psycopg.errors.error_from_result(res, encoding=conn.info.encoding)
    return res


def _dollar(query: str) -> str:
    n = iter(range(1, query.count("%s") + 1))
    return re.sub(r"%s", lambda m: f"${next(n)}", query)


def _stale(e: BaseException) -> bool:
    return getattr(e, "sqlstate", None) == "DU004"


class _RestartTask(Exception):
    """The task handed back after a local activity heartbeat does not continue the cached run."""

    def __init__(self, task: dict):
        super().__init__("the workflow task handed back does not continue the cached run")
        self.task = task


class _LocalActivitiesLost(Exception):
    """A local activity heartbeat handed no task back: the run is dropped; its next
    task replays it and runs the local activities that have no marker again."""


def _task_timeout(task: dict) -> float:
    """A workflow task's timeout (deadline - started_time), 10 s when unknown."""
    started, deadline = _ts(task.get("started_time")), _ts(task.get("deadline"))
    if started is not None and deadline is not None and deadline > started:
        return (deadline - started).total_seconds()
    return 10.0


class Worker:
    """Runs workflows and activities of one task queue (Temporal's `Worker`)."""

    def __init__(self, client, *, task_queue: str, workflows: Sequence[type] = (),
                 activities: Sequence[Any] = (), max_concurrent_workflow_tasks: Optional[int] = None,
                 max_concurrent_activities: Optional[int] = None,
                 max_concurrent_activity_task_polls: Optional[int] = None, identity: Optional[str] = None,
                 build_id: Optional[str] = None, poll_wait: Any = timedelta(seconds=30),
                 graceful_shutdown_timeout: Any = timedelta(0), eager: bool = True,
                 activity_executor: Optional[concurrent.futures.Executor] = None,
                 session: bool = True, max_cached_workflows: int = 1000, metrics_registry: Any = None):
        if not workflows and not activities:
            raise ValueError("a worker needs at least one workflow or activity")
        self.client = client
        self.task_queue = task_queue
        self.namespace = client.namespace
        self.identity = identity or getattr(client, "identity", None) or f"{os.getpid()}@{socket.gethostname()}"
        self.build_id = build_id
        self._workflows = {}
        for w in workflows:
            d = definition_of(w)
            self._workflows[d.name] = d
        self._activities = {}
        self._dynamic_activity = None
        for a in activities:
            if getattr(a, "__durable_activity_dynamic__", False):
                self._dynamic_activity = a
                continue
            name = getattr(a, "__durable_activity_name__", None)
            if name is None:
                raise TypeError(f"{a!r} is not an @activity.defn function")
            self._activities[name] = a
        self._wf_slots = (max_concurrent_workflow_tasks or 2) if self._workflows else 0
        has_activities = bool(self._activities or self._dynamic_activity)
        self._max_acts = (max_concurrent_activities or 20) if has_activities else 0
        self._act_pollers = min(max_concurrent_activity_task_polls or 2, self._max_acts)
        self._permits = asyncio.Semaphore(self._max_acts)
        self._pool: list = []            # idle connections of the activity runners
        self._runners: set = set()       # running activity runners
        self._poll_wait = to_seconds(poll_wait) or 0
        self._grace = to_seconds(graceful_shutdown_timeout) or 0
        self._eager = eager
        self._executor = activity_executor
        self._own_executor = False
        self._session = session
        self._stopping = asyncio.Event()
        self._polling: dict = {}         # slot -> its connection, while a poll waits
        self._running: set = set()       # running activity contexts
        self._hb_conn = None
        self._hb_lock = asyncio.Lock()
        self._slots: list = []
        self._run_task: Optional[asyncio.Task] = None
        self._max_cached = max_cached_workflows if self._workflows else 0
        self._cache: collections.OrderedDict = collections.OrderedDict()   # run id -> WorkflowInstance
        self.completed = {"workflow": 0, "activity": 0, "query": 0}
        self.cache_stats = {"hits": 0, "misses": 0, "evictions": 0}
        self.handed_back = {"workflow": 0, "activity": 0}   # tasks that came from completions, not polls
        self.failed = {"workflow": 0, "activity": 0}        # tasks reported failed (fail_workflow_task, fail_activity)
        self.polled = 0                                     # tasks claimed by polls
        # Prometheus metrics (durable/_metrics.py, which imports prometheus_client) only with a registry
        self._metrics = None
        self._wf_busy = 0                                   # workflow and query tasks running (metrics only)
        if metrics_registry is not None:
            from . import _metrics
            self._metrics = _metrics.WorkerMetrics(metrics_registry, self)
        self.local_heartbeats = 0        # workflow tasks completed early to keep local activities' task alive

    # ------------------------------------------------------------ lifecycle
    async def run(self) -> None:
        """Poll and run tasks until `shutdown()` is called or the task is cancelled."""
        if self._max_acts and self._executor is None and any(
                not inspect.iscoroutinefunction(f) for f in self._activities.values()):
            self._executor = concurrent.futures.ThreadPoolExecutor(self._max_acts, "durable-activity")
            self._own_executor = True
        await self._connect_session()
        self._slots = [asyncio.ensure_future(self._slot(i, ["workflow"])) for i in range(self._wf_slots)]
        self._slots += [asyncio.ensure_future(self._slot(self._wf_slots + i, ["activity"]))
                        for i in range(self._act_pollers)]
        try:
            await self._stopping.wait()
        finally:
            await self._finish()

    async def shutdown(self) -> None:
        """Stop polling, let running tasks finish (up to the grace time), give back the rest."""
        self._stopping.set()
        for conn in list(self._polling.values()):
            try:
                conn.cancel()
            except Exception:           # noqa: BLE001 - the slot sees its connection go anyway
                pass
        if self._run_task is not None:
            await asyncio.shield(self._run_task)

    async def __aenter__(self) -> "Worker":
        self._run_task = asyncio.ensure_future(self.run())
        return self

    async def __aexit__(self, *exc) -> None:
        await self.shutdown()

    async def _finish(self):
        self._stopping.set()
        for conn in list(self._polling.values()):
            try:
                conn.cancel()
            except Exception:           # noqa: BLE001
                pass
        waiting = set(self._slots) | set(self._runners)
        if waiting:
            # running tasks get the grace time; then activities are cancelled
            # (and given back below) and the slots get 5 s to finish what
            # they are sending
            _, pending = await asyncio.wait(waiting, timeout=self._grace or 0.0)
            if pending:
                for c in list(self._running):
                    if c.task is not None:
                        c.task.cancel()
                _, pending = await asyncio.wait(pending, timeout=5.0)
                for p in pending:
                    p.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
        try:
            if self._hb_conn is not None and not self._hb_conn.closed:
                await self._hb_conn.execute(_RELEASE, (self.identity, self.task_queue, self.namespace))
                if self._session:
                    await self._hb_conn.execute("SELECT durable.close_worker_session()")
        except psycopg.Error as e:
            log.warning("durable worker %s: giving back tasks at shutdown failed: %s", self.identity, e)
        if self._hb_conn is not None:
            await self._hb_conn.close()
        for c in self._pool:
            await c.close()
        self._pool.clear()
        while self._cache:
            self._cache.popitem()[1].dispose()
        if self._own_executor:
            self._executor.shutdown(wait=False)
        if self._metrics is not None:
            self._metrics.close()

    async def _connect(self, autocommit: bool = True):
        conn = await psycopg.AsyncConnection.connect(self.client.dsn, autocommit=autocommit)
        if autocommit and self._max_cached:
            await conn.execute("SET durable.sticky_execution = on")
        return conn

    async def _connect_session(self):
        if self._hb_conn is not None and not self._hb_conn.closed:
            return
        self._hb_conn = await self._connect()
        if self._session:
            await self._hb_conn.execute("SELECT durable.open_worker_session(%s)", (self.identity,))

    # ------------------------------------------------------------ slots
    async def _slot(self, n: int, kinds: list):
        """A workflow slot (polls and runs), or an activity poller (takes a
        permit, polls, hands the task with its permit to a runner)."""
        backoff = 0.1
        conn = None
        activities = kinds == ["activity"]
        while not self._stopping.is_set():
            permit = False
            try:
                if activities:
                    await self._permits.acquire()
                    permit = True
                if conn is None or conn.closed:
                    conn = await self._connect()
                self._polling[n] = conn
                t0 = time.perf_counter()
                try:
                    task = await _call(conn, _POLL, (self.task_queue, self.identity, kinds, self._poll_wait,
                                                     self.namespace, self.build_id))
                finally:
                    self._polling.pop(n, None)
                if self._metrics is not None:
                    self._metrics.poll_done(kinds, time.perf_counter() - t0, task is not None)
                backoff = 0.1
                if task is None:
                    continue
                self.polled += 1
                if activities:
                    permit = False
                    self._spawn(task)
                else:
                    await self._run_tasks(conn, [task])
            except psycopg.errors.QueryCanceled:
                if self._stopping.is_set():
                    break
            except (psycopg.OperationalError, psycopg.InterfaceError) as e:
                if self._stopping.is_set():
                    break
                log.warning("durable worker %s: connection lost (%s); reconnecting in %.1fs", self.identity, e, backoff)
                if conn is not None:
                    await conn.close()
                conn = None
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                try:
                    await self._connect_session()
                except psycopg.Error:
                    pass
            except asyncio.CancelledError:
                break
            except Exception:           # noqa: BLE001 - a bug must not kill the slot
                log.exception("durable worker %s: task failed in the SDK; the slot goes on", self.identity)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                if permit:
                    self._permits.release()
        if conn is not None:
            await conn.close()

    def _spawn(self, task: dict):
        """Run an activity task (which holds a permit) in a runner of its own."""
        t = asyncio.ensure_future(self._runner(task))
        self._runners.add(t)
        t.add_done_callback(self._runners.discard)

    async def _runner(self, task: dict):
        conn, ok = None, True
        try:
            conn = await self._take_conn()
            await self._run_tasks(conn, [task], runner=True)
        except (psycopg.OperationalError, psycopg.InterfaceError) as e:
            ok = False
            log.warning("durable worker %s: connection lost running %s: %s", self.identity,
                        task.get("activity_type"), e)
        except asyncio.CancelledError:
            ok = False
        except Exception:               # noqa: BLE001
            ok = False
            log.exception("durable worker %s: activity runner failed in the SDK", self.identity)
        finally:
            if conn is None:
                self._permits.release()     # never ran: give its permit back
            else:
                await self._give_conn(conn, ok)

    async def _take_conn(self):
        while self._pool:
            c = self._pool.pop()
            if not c.closed:
                return c
        return await self._connect()

    async def _give_conn(self, conn, ok: bool):
        if ok and not conn.closed and not self._stopping.is_set() and len(self._pool) < self._max_acts:
            self._pool.append(conn)
        else:
            await conn.close()

    async def _run_tasks(self, conn, tasks: list, runner: bool = False):
        """Run a task and whatever its completion hands back, in order.
        Activities go to runners; a runner keeps the last one for itself, and
        keeps a finished activity's permit for the activity that the workflow
        task handed back with its completion schedules next (a chain goes on
        before new work starts)."""
        queue = list(tasks)
        first = True
        carry = 0
        try:
            while queue:
                task = queue.pop(0)
                kind = task.get("kind")
                if self._stopping.is_set() and not first:
                    if kind == "activity":
                        self._permits.release()
                    continue            # handed back to us: given back at shutdown (release_tasks)
                first = False
                if kind == "activity":
                    if not runner or any(t.get("kind") == "activity" for t in queue):
                        self._spawn(task)
                        continue
                    try:
                        out = await self._measured(task, self._activity_task(conn, task))
                    except BaseException:
                        self._permits.release()
                        raise
                    if out and any(t.get("kind") == "workflow" for t in out.get("tasks") or ()):
                        carry += 1
                    else:
                        self._permits.release()
                elif kind == "workflow":
                    handed, carry = carry, 0
                    out = await self._measured(task, self._workflow_task(conn, task, handed))
                elif kind == "query":
                    out = await self._measured(task, self._query_task(conn, task))
                else:
                    out = None          # a kind this worker does not know: ignore it
                if out and out.get("tasks"):
                    for t in out["tasks"]:
                        if t.get("kind") in self.handed_back:
                            self.handed_back[t["kind"]] += 1
                    queue.extend(out["tasks"])
        finally:
            for _ in range(carry):
                self._permits.release()

    # ------------------------------------------------------------ metrics
    async def _measured(self, task: dict, run):
        """Await a task's run, observing its latencies when the worker has metrics."""
        m = self._metrics
        if m is None:
            return await run
        kind = task.get("kind")
        m.task_started(kind, task, _ts(task.get("scheduled_time")), _ts(task.get("started_time")))
        busy = kind != "activity"           # running activities are counted by self._running
        if busy:
            self._wf_busy += 1
        t0 = time.perf_counter()
        try:
            return await run
        finally:
            if busy:
                self._wf_busy -= 1
            m.task_done(kind, task, time.perf_counter() - t0)

    def _slots_in_use(self, kind: str) -> tuple:
        """(used, available) task slots of a kind, for the slot gauges."""
        if kind == "activity":
            used = len(self._running)
            return used, max(0, self._max_acts - used)
        return self._wf_busy, max(0, self._wf_slots - self._wf_busy)

    # ------------------------------------------------------------ workflow tasks
    async def _workflow_task(self, conn, task: dict, carried: int = 0) -> Optional[dict]:
        """Run a workflow task and complete it. `carried`: activity permits
        the caller hands on (a runner whose activity just completed), used
        first for the activities this task schedules; the rest are freed."""
        received = asyncio.get_running_loop().time()
        token = task["task_token"]
        run_id = str(task["run_id"])
        defn = self._workflows.get(task["workflow_type"])
        inst = self._cache.pop(run_id, None)
        try:
            if defn is None:
                return await self._fail_wft(conn, token, {
                    "type": "NotFoundError", "non_retryable": False,
                    "message": f"workflow type {task['workflow_type']!r} is not registered on worker "
                               f"{self.identity} (registered: {', '.join(sorted(self._workflows)) or 'none'})"})
            history = task["history"]
            rest = _runtime.continuation(inst, history) if inst is not None else None
            if rest is None:
                if inst is not None:
                    inst.dispose()
                    inst = None
                self.cache_stats["misses"] += 1
                if history and history[0]["event_id"] > 1:
                    history = await _call(conn, _WFT_HISTORY, (token,))
            else:
                self.cache_stats["hits"] += 1
            try:
                if inst is None:
                    inst, out, _ = _runtime.replay(defn, history, workflow_id=task["workflow_id"], run_id=run_id,
                                                   namespace=self.namespace, task_queue=task["task_queue"],
                                                   current=True, messages=task.get("messages"))
                else:
                    out, _ = _runtime.advance(inst, rest, current=True, messages=task.get("messages"))
            except BaseException as e:      # noqa: B902 - a replay error fails the task, never the worker
                if inst is not None:
                    inst.dispose()
                    inst = None
                failure = _runtime.task_failure(e)
                log.warning("durable worker %s: workflow task of %s failed: %s", self.identity,
                            task["workflow_id"], failure.get("message"))
                return await self._fail_wft(conn, token, failure)
            if inst.local_requests or inst.local_cancels:
                state = {"task": task, "out": out}
                try:
                    await self._drive_local(conn, state, inst, received)
                    task, out = state["task"], state["out"]
                except _RestartTask as r:
                    inst.dispose()
                    inst = None
                    handed, carried = carried, 0
                    return await self._workflow_task(conn, r.task, handed)
                except _LocalActivitiesLost as e:
                    log.info("durable worker %s: %s", self.identity, e)
                    return None
                except psycopg.Error:
                    raise
                except BaseException as e:      # noqa: B902 - a replay error fails the task, never the worker
                    inst.dispose()
                    inst = None
                    failure = _runtime.task_failure(e)
                    log.warning("durable worker %s: workflow task of %s failed: %s", self.identity,
                                task["workflow_id"], failure.get("message"))
                    return await self._fail_wft(conn, state["task"]["task_token"], failure)
                token = task["task_token"]
            reserved = 0
            if self._eager:
                for c in out:
                    if c["type"] == "schedule_activity" and c["activity_type"] in self._activities and \
                            c.get("task_queue", self.task_queue) == self.task_queue:
                        if carried:
                            carried -= 1
                        elif self._permits.locked():
                            continue
                        else:
                            await self._permits.acquire()   # free: returns at once
                        reserved += 1
                        c["request_eager_execution"] = True
            handed = 0
            try:
                res = await _call(conn, _COMPLETE_WFT, (token, _json(out), self._eager))
                self.completed["workflow"] += 1
                handed = sum(1 for t in (res or {}).get("tasks") or () if t.get("kind") == "activity")
                # a completion of only update rejections may leave no event (an update's
                # speculative task, docs/protocol.md "Updates"): the next task's history then
                # does not continue this instance, so it is not kept
                if self._max_cached and not inst.closed and (res or {}).get("outcome") == "completed" and \
                        not (task.get("messages") and all(c["type"] == "reject_update" for c in out)):
                    self._keep(run_id, inst)
                    inst = None
                return res
            except psycopg.errors.DatabaseError as e:
                if _stale(e) or isinstance(e, psycopg.OperationalError):
                    raise
                return await self._fail_wft(conn, token, error_to_failure(map_error(e)))
            finally:
                for _ in range(reserved - handed):
                    self._permits.release()
        except psycopg.Error as e:
            if _stale(e):
                return None             # the task timed out or its run closed: drop it
            raise
        finally:
            if inst is not None:
                inst.dispose()
            for _ in range(carried):
                self._permits.release()

    def _keep(self, run_id: str, inst):
        """Cache a run's instance for its next task (least recently used out first)."""
        self._cache[run_id] = inst
        while len(self._cache) > self._max_cached:
            self._cache.popitem(last=False)[1].dispose()
            self.cache_stats["evictions"] += 1

    async def _fail_wft(self, conn, token, failure) -> None:
        try:
            await _call(conn, _FAIL_WFT, (token, _json(failure)))
            self.failed["workflow"] += 1
        except psycopg.Error as e:
            if not _stale(e):
                raise
        return None

    # ------------------------------------------------------------ local activities
    # (docs/protocol.md, "Local activities"; as the TypeScript SDK's
    # worker/local-activities.ts and Temporal's core SDK): run the local
    # activities a workflow task's activations ask for, in this process, while
    # holding the task; feed each outcome back to the run (an activation whose
    # first command is the outcome's marker) until none is outstanding; then the
    # task completes with every marker in one completion. Past 80 % of the task
    # timeout the task is completed with the markers so far and force_new_task
    # + return_workflow_task, and the activities go on under the next task.
    async def _drive_local(self, conn, state: dict, inst, received: float) -> None:
        """state: {"task", "out"}, kept current (after a heartbeat, the task handed back)."""
        loop = asyncio.get_running_loop()
        task, out = state["task"], state["out"]
        execs: dict = {}                 # seq -> asyncio.Task of _run_local

        def take_new():
            requests, cancels = inst.take_local()
            for r in requests:
                x = execs[r["seq"]] = asyncio.ensure_future(self._run_local(r, task))
                x._durable_seq = r["seq"]
            for c in cancels:
                x = execs.get(c["seq"])
                if x is None:
                    continue
                if c["cancel"]:
                    x.cancel()
                if c["drop"]:
                    del execs[c["seq"]]

        take_new()
        deadline = received + _WFT_HEARTBEAT_SHARE * _task_timeout(task)
        try:
            while execs and not inst.closed:
                done, _ = await asyncio.wait(list(execs.values()), timeout=max(0.0, deadline - loop.time()),
                                             return_when=asyncio.FIRST_COMPLETED)
                if not done:
                    task, out = await self._heartbeat_wft(conn, state, inst, out)
                    deadline = loop.time() + _WFT_HEARTBEAT_SHARE * _task_timeout(task)
                    take_new()
                    continue
                x = min(done, key=lambda d: d._durable_seq)
                if execs.get(x._durable_seq) is not x:
                    continue            # dropped (cancelled without waiting)
                del execs[x._durable_seq]
                job = {"seq": x._durable_seq, "attempt": 1, "failure": _LOCAL_CANCELLED,
                       "retry_state": "CANCEL_REQUESTED"} if x.cancelled() else x.result()
                out = state["out"] = out + inst.resolve_local(job)
                take_new()
        finally:
            # the workflow closed, or the task is given up: nothing waits for them any more
            for x in execs.values():
                x.cancel()

    async def _heartbeat_wft(self, conn, state: dict, inst, out: list) -> tuple:
        """Complete the task with the commands so far and force_new_task, and go
        on with the task the completion hands back (the run advanced to it)."""
        task = state["task"]
        res = await _call(conn, _COMPLETE_WFT_FORCED, (task["task_token"], _json(out)))
        self.completed["workflow"] += 1
        self.local_heartbeats += 1
        mine = next((t for t in (res or {}).get("tasks") or ()
                     if t.get("kind") == "workflow" and str(t.get("run_id")) == inst.info_.run_id), None)
        if mine is None:
            raise _LocalActivitiesLost(f"the heartbeat of {task['workflow_id']}'s workflow task handed no task back")
        self.handed_back["workflow"] += 1
        rest = _runtime.continuation(inst, mine.get("history") or [])
        if rest is None:
            raise _RestartTask(mine)
        state["task"], state["out"] = mine, []
        commands, _ = _runtime.advance(inst, rest, current=True, messages=mine.get("messages"))
        state["out"] = commands
        return mine, commands

    def _launch_activity(self, fn, activity_type: str, raw_input, ctx, loop) -> None:
        """Start an activity's function with `ctx` as its activity context, ordinary or local:
        an `async def` as a task of the loop, a plain `def` in the executor; the running call is
        `ctx.task`. A dynamic activity gets the activity type first, its arguments undecoded."""
        args = _runtime._args(raw_input)
        reset = _activity._ctx.set(ctx)
        try:
            if getattr(fn, "__durable_activity_dynamic__", False):
                call = (fn, [activity_type, *args])
            else:
                call = (fn, converter.decode_args(args, fn))
            if inspect.iscoroutinefunction(fn):
                ctx.task = loop.create_task(call[0](*call[1]))
            else:
                ctx.task = asyncio.ensure_future(loop.run_in_executor(
                    self._executor, contextvars.copy_context().run, call[0], *call[1]))
        finally:
            _activity._ctx.reset(reset)

    async def _run_local(self, req: dict, task: dict) -> dict:
        """The attempts of one local activity, retried here while the backoff is
        within the local retry threshold: its outcome as a job for resolve_local."""
        loop = asyncio.get_running_loop()
        began = loop.time()

        def out(attempt, **more):
            return {"seq": req["seq"], "attempt": attempt, "runtime": loop.time() - began, **more}

        attempt = req["attempt"]
        try:
            fn = self._activities.get(req["activity_type"], self._dynamic_activity)
            p = req["retry"]
            while True:
                ok, value, final = await self._local_attempt(req, task, attempt, fn)
                if ok:
                    return out(attempt, result=value)
                f = value
                if final:
                    return out(attempt, failure=f, retry_state="TIMEOUT")
                if f.get("non_retryable") or f.get("type") in p["non_retryable_error_types"]:
                    return out(attempt, failure=f, retry_state="NON_RETRYABLE_FAILURE")
                if p["maximum_attempts"] > 0 and attempt >= p["maximum_attempts"]:
                    return out(attempt, failure=f, retry_state="MAXIMUM_ATTEMPTS_REACHED")
                if f.get("next_retry_delay") is not None:
                    backoff = to_seconds(f["next_retry_delay"])
                else:
                    backoff = min(p["initial_interval"] * p["backoff_coefficient"] ** (attempt - 1),
                                  p["maximum_interval"])
                s2c = req["schedule_to_close"]
                if s2c is not None and time.time() + backoff >= req["original_schedule_time"].timestamp() + s2c:
                    return out(attempt, failure=f, retry_state="TIMEOUT")
                if backoff > req["local_retry_threshold"]:
                    return out(attempt, failure=f, retry_state="IN_PROGRESS", backoff=backoff)
                await asyncio.sleep(backoff)
                attempt += 1
        except asyncio.CancelledError:
            return out(attempt, failure=_LOCAL_CANCELLED, retry_state="CANCEL_REQUESTED")

    async def _local_attempt(self, req: dict, task: dict, attempt: int, fn) -> tuple:
        """One attempt, bounded by start-to-close and what is left of
        schedule-to-close: (True, result, _) or (False, failure, final)."""
        loop = asyncio.get_running_loop()
        now = time.time()
        s2c = req["schedule_to_close"]
        to_close = req["original_schedule_time"].timestamp() + s2c - now if s2c is not None else float("inf")
        start_to_close = req["start_to_close"] if req["start_to_close"] is not None else float("inf")
        limit = min(start_to_close, to_close)
        kind = "START_TO_CLOSE" if start_to_close <= to_close else "SCHEDULE_TO_CLOSE"
        what = "start-to-close" if kind == "START_TO_CLOSE" else "schedule-to-close"
        timeout_failure = {"message": f"local activity {what} timeout", "type": "TimeoutFailure",
                           "non_retryable": False, "timeout_type": kind}
        if limit <= 0:
            return False, timeout_failure, True
        if fn is None:
            return False, {"message": f"local activity {req['activity_type']!r} is not registered on worker "
                                      f"{self.identity}", "type": "NotFoundError", "non_retryable": False}, False
        started = datetime.now(timezone.utc)
        info = _activity.Info(
            activity_id=req["activity_id"], activity_type=req["activity_type"], attempt=attempt, task_token="",
            task_queue=task["task_queue"], workflow_id=task["workflow_id"], workflow_run_id=str(task["run_id"]),
            workflow_type=task["workflow_type"], workflow_namespace=self.namespace, heartbeat_details=[],
            heartbeat_timeout=None, scheduled_time=req["original_schedule_time"], started_time=started,
            deadline=started + timedelta(seconds=limit) if limit != float("inf") else None, is_local=True)
        ctx = _activity._LocalContext(info, self, loop)
        try:
            self._launch_activity(fn, req["activity_type"], req["input"], ctx, loop)
            try:
                result = await asyncio.wait_for(ctx.task, None if limit == float("inf") else limit)
            except asyncio.TimeoutError:
                await _rollback(ctx)
                return False, timeout_failure, kind == "SCHEDULE_TO_CLOSE"
            if ctx.conn is not None:
                await ctx.conn.commit()
            return True, converter.encode(result), False
        except asyncio.CancelledError:
            await _rollback(ctx)
            raise
        except Exception as e:          # noqa: BLE001 - the attempt's failure
            await _rollback(ctx)
            return False, error_to_failure(map_error(e)), False
        finally:
            if ctx.conn is not None:
                await ctx.conn.close()

    # ------------------------------------------------------------ query tasks
    async def _query_task(self, conn, task: dict) -> None:
        result, failure = None, None
        try:
            defn = self._workflows.get(task["workflow_type"])
            if task.get("history") is None:
                raise LookupError(f"workflow run {task['run_id']} no longer exists")
            if defn is None:
                raise LookupError(f"workflow type {task['workflow_type']!r} is not registered on this worker")
            inst = replay_stored(defn, task["history"], workflow_id=task["workflow_id"], run_id=str(task["run_id"]),
                                 namespace=self.namespace, task_queue=task["task_queue"])
            try:
                result = inst.query(task["query_name"], _runtime._args(task.get("input")))
            finally:
                inst.dispose()
        except BaseException as e:      # noqa: B902 - any error is the query's failure
            failure = error_to_failure(e)
        try:
            await _call(conn, _ANSWER, (task["task_token"], _json(result), _json(failure) if failure else None))
            self.completed["query"] += 1
        except psycopg.Error as e:
            if not _stale(e):
                raise
        return None

    # ------------------------------------------------------------ activity tasks
    async def _activity_task(self, conn, task: dict) -> Optional[dict]:
        token = task["task_token"]
        fn = self._activities.get(task["activity_type"], self._dynamic_activity)
        loop = asyncio.get_running_loop()
        hd = task.get("heartbeat_details")
        info = _activity.Info(
            activity_id=task["activity_id"], activity_type=task["activity_type"], attempt=task.get("attempt") or 1,
            task_token=token, task_queue=task["task_queue"], workflow_id=task["workflow_id"],
            workflow_run_id=str(task["run_id"]), workflow_type=task["workflow_type"],
            workflow_namespace=self.namespace, heartbeat_details=_heartbeat_details(hd),
            heartbeat_timeout=_parse_interval(task.get("heartbeat_timeout")),
            scheduled_time=_ts(task.get("scheduled_time")), started_time=_ts(task.get("started_time")),
            deadline=_ts(task.get("deadline")), priority=task.get("priority"))
        ctx = _activity._Context(info, self, loop)
        self._running.add(ctx)
        eager = self._eager
        try:
            if fn is None:
                raise LookupError(f"activity type {task['activity_type']!r} is not registered on worker "
                                  f"{self.identity} (registered: {', '.join(sorted(self._activities)) or 'none'})")
            self._launch_activity(fn, task["activity_type"], task.get("input"), ctx, loop)
            try:
                result = converter.encode(await ctx.task)
            finally:
                if ctx.sender is not None:
                    ctx.sender.cancel()
            if ctx.gone:
                return None
            if ctx.conn is not None:
                await ctx.conn.execute(_COMPLETE_ACT, (token, _json(result), False))
                await ctx.conn.commit()
                self.completed["activity"] += 1
                return None
            res = await _call(conn, _COMPLETE_ACT, (token, _json(result), eager))
            self.completed["activity"] += 1
            return res
        except asyncio.CancelledError:
            await _rollback(ctx)
            if ctx.gone:
                return None             # DU004 from a heartbeat: the attempt is over, report nothing
            if not ctx.cancelled.is_set():
                if self._stopping.is_set():
                    return None         # shutdown: release_tasks gives it back
                raise
            try:
                await _call(conn, _CANCELED_ACT, (token, None))
            except psycopg.Error as e:
                if not _stale(e):
                    raise
            return None
        except Exception as e:          # noqa: BLE001 - the activity's failure
            await _rollback(ctx)
            if ctx.gone or _stale(e):
                return None
            if isinstance(e, (psycopg.OperationalError, psycopg.InterfaceError)) and ctx.conn is None:
                raise
            await ctx.flush()           # a heartbeat held back by the throttle reaches the next attempt
            try:
                res = await _call(conn, _FAIL_ACT, (token, _json(error_to_failure(map_error(e))), eager))
                self.completed["activity"] += 1
                self.failed["activity"] += 1
                return res
            except psycopg.Error as e2:
                if _stale(e2):
                    return None
                raise
        finally:
            self._running.discard(ctx)
            if ctx.conn is not None:
                await ctx.conn.close()

    async def _activity_connection(self):
        conn = await self._connect(autocommit=False)
        return conn

    async def _heartbeat(self, ctx, details: list) -> bool:
        payload = details[0] if len(details) == 1 else ({_DETAILS: details} if details else None)
        async with self._hb_lock:
            try:
                await self._connect_session()
                return bool(await _call(self._hb_conn, _HEARTBEAT,
                                        (ctx.info.task_token, _json(converter.encode(payload)))))
            except psycopg.Error as e:
                if _stale(e):
                    ctx.gone = True
                    if ctx.task is not None and not ctx.task.done():
                        ctx.task.cancel()
                    return False
                log.warning("durable worker %s: heartbeat failed: %s", self.identity, e)
                return False


async def _rollback(ctx):
    if ctx.conn is not None and not ctx.conn.closed:
        try:
            await ctx.conn.rollback()
        except psycopg.Error:
            pass


def _parse_interval(v) -> Optional[timedelta]:
    if v is None:
        return None
    if isinstance(v, timedelta):
        return v
    s = to_seconds(v)
    return None if s is None else timedelta(seconds=s)


# ------------------------------------------------------------------ replay of stored histories
def replay_stored(defn, history: list, *, workflow_id: str, run_id: str, namespace: str,
                  task_queue: str) -> "_runtime.WorkflowInstance":
    """Replay a stored history (every task past), then apply the events no
    task has seen yet, on this throwaway instance (docs/protocol.md, "Queries")."""
    inst, _, trailing = _runtime.replay(defn, history, workflow_id=workflow_id, run_id=run_id,
                                        namespace=namespace, task_queue=task_queue, current=False)
    rest = [e for e in trailing if e["event_type"] not in _runtime.COMMAND_EVENTS]
    if rest and not inst.closed:
        try:
            inst.activate(rest, inst.now, True, set())
        except BaseException:
            inst.dispose()
            raise
    return inst


class WorkflowReplayResult:
    def __init__(self, history, replay_failure: Optional[Exception]):
        self.history = history
        self.replay_failure = replay_failure


class Replayer:
    """Replays stored histories (`Client` `fetch_history`, `durable.get_history`)
    against workflow code, to check a code change is deterministic."""

    def __init__(self, *, workflows: Sequence[type], namespace: str = "default"):
        self._workflows = {definition_of(w).name: definition_of(w) for w in workflows}
        self._namespace = namespace

    async def replay_workflow(self, history, *, raise_on_replay_failure: bool = True) -> WorkflowReplayResult:
        """Replay one history: a list of events, a JSON text of one, or an
        object with `.events` (and optionally `.workflow_id`, `.run_id`).
        Raises `workflow.NondeterminismError` on a mismatch (or returns it in
        the result with `raise_on_replay_failure=False`)."""
        events, wid, rid = _history_parts(history)
        failure = None
        try:
            wtype = events[0]["attributes"]["workflow_type"]
            defn = self._workflows.get(wtype)
            if defn is None:
                raise LookupError(f"workflow type {wtype!r} is not among the replayer's workflows")
            inst, _, _ = _runtime.replay(defn, events, workflow_id=wid, run_id=rid, namespace=self._namespace,
                                         task_queue=events[0]["attributes"].get("task_queue", ""), current=False)
            inst.dispose()
        except Exception as e:          # noqa: BLE001
            failure = e
        if failure is not None and raise_on_replay_failure:
            raise failure
        return WorkflowReplayResult(history, failure)

    async def replay_workflows(self, histories: Iterable, *, raise_on_replay_failure: bool = True) -> list:
        return [await self.replay_workflow(h, raise_on_replay_failure=raise_on_replay_failure) for h in histories]


def _history_parts(history):
    import json
    if isinstance(history, (str, bytes)):
        history = json.loads(history)
    if isinstance(history, dict):
        events, wid, rid = history["events"], history.get("workflow_id", "replay"), history.get("run_id")
    elif isinstance(history, list):
        events, wid, rid = history, "replay", None
    else:
        events, wid, rid = list(history.events), getattr(history, "workflow_id", "replay"), \
            getattr(history, "run_id", None)
    # without a run id: the events' own, else the first run's, as the TypeScript
    # SDK's runReplayHistory (uuid4() and default child ids are seeded with it)
    if not rid and events:
        rid = events[0].get("run_id") or (events[0].get("attributes") or {}).get("first_execution_run_id")
    return events, wid, str(rid or "replay")
