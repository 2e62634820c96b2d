#!/usr/bin/env bash
# The subscription-renewal demo of the TypeScript SDK (run by demo/run, as the
# postgres user, against its private cluster: PGHOST, PGPORT, PGUSER, PGDATABASE).
#
#  1. builds the SDK if dist/ is missing or stale (in a temp copy when the
#     repository is not writable by this user), CREATE EXTENSION durable;
#  2. starts worker-1 (node dist/examples/subscription/worker.js, a separate
#     process) and a few renewals: one succeeds, one fails with the
#     non-retryable InvalidAccountError, one is declined and notified, one
#     whose extension is rejected is compensated by a refund, one retried,
#     one slow, and a long-running lifecycle that sleeps on a durable timer;
#  3. kills worker-1 with SIGKILL once a charge has completed while
#     renewal-slow-erin is in the middle of extendSubscription;
#  4. starts worker-2 -- and, when the Python SDK can run here (sdk/python,
#     Debian's python3 with python3-psycopg), python-1, the Python example's
#     worker (sdk/python/examples/subscription), on the same task queue --
#     waits for every workflow to finish and checks, from the activities' own
#     tables, that no charge ran twice; prints how many tasks each worker
#     identity completed (the histories' identity fields);
#  5. prints each workflow's history with durable.get_history;
#  6. (with Python) one TypeScript worker and one Python worker on a fresh task
#     queue from the start: 14 workflows, each worker must complete some of
#     their tasks, no workflow task may fail (sdk/python/examples/subscription/demo.py).
# Exit status 0 when every check passed.

set -u
set -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
SDK_SRC=$(cd "$HERE/../.." && pwd -P)
TASK_QUEUE=${TASK_QUEUE:-subscriptions}
export TASK_QUEUE

# header, info, warn: the repository's shared shell helpers
# shellcheck source=../../../../scripts/common.sh
. "$SDK_SRC/../../scripts/common.sh"

TMPD=$(mktemp -d /tmp/durable-sdk-demo.XXXXXX) || exit 1

# The Python SDK's twin of this example, if it can run here
PY=${DURABLE_PYTHON:-/usr/bin/python3}
PY_SDK=$(cd "$SDK_SRC/../python" 2>/dev/null && pwd -P)
HAVE_PY=0
if [ -n "$PY_SDK" ] && [ -f "$PY_SDK/examples/subscription/worker.py" ] && [ -x "$PY" ] &&
   "$PY" -c 'import psycopg' 2>/dev/null; then
    HAVE_PY=1
fi
WORKER_PIDS=()

# shellcheck disable=SC2317  # (invoked by the trap)
cleanup() {
    local pid _
    for pid in "${WORKER_PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null        # graceful shutdown()
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$pid" 2>/dev/null
        fi
        wait "$pid" 2>/dev/null
    done
    rm -rf -- "$TMPD"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------
header "TypeScript SDK: build"

EXAMPLE=subscription
# shellcheck source=../build-sdk.sh
. "$HERE/../build-sdk.sh"

# ---------------------------------------------------------------------------
header "database: CREATE EXTENSION durable, the example's tables"

psql -X -q -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION IF NOT EXISTS durable' || exit 1
info "durable $(psql -X -Atc "SELECT extversion FROM pg_extension WHERE extname = 'durable'") in database ${PGDATABASE:-?} (socket ${PGHOST:-?}, port ${PGPORT:-?})"

urlencode() { node -e 'process.stdout.write(encodeURIComponent(process.argv[1]))' "$1"; }
DATABASE_URL="postgresql://$(urlencode "${PGUSER:-postgres}")@/$(urlencode "${PGDATABASE:-postgres}")?host=$(urlencode "${PGHOST:-/var/run/postgresql}")&port=${PGPORT:-5432}"
export DATABASE_URL

node "$DEMO_JS" setup || exit 1
info "tables charges, refunds, subscriptions, notifications, activity_runs (written by the activities)"

# workflow ids must be new: add a suffix if this database already ran the demo
DEMO_TAG=""
if [ "$(psql -X -Atc "SELECT count(*) FROM durable.workflows WHERE workflow_id = 'renewal-alice'")" != 0 ]; then
    DEMO_TAG="-$(date +%s)"
fi
export DEMO_TAG DEMO_STATE=$TMPD/state.json

# A worker is the example's worker.js, unchanged, in its own process.  A killed
# worker's long polls end when they are next woken: they claim nothing.
start_worker() {   # name
    local name=$1
    env WORKER_IDENTITY="$name" \
        node "$WORKER_JS" > >(sed -u "s/^/  [$name] /") 2>&1 &
    LAST_PID=$!
    WORKER_PIDS+=("$LAST_PID")
}

# The Python example's worker (sdk/python/examples/subscription/worker.py), the
# SDK from this checkout; it prints "ready" once it polls.
start_py_worker() {   # name [task queue]
    local name=$1 queue=${2:-$TASK_QUEUE}
    env WORKER_IDENTITY="$name" TASK_QUEUE="$queue" PYTHONDONTWRITEBYTECODE=1 PYTHONSAFEPATH=1 \
        PYTHONPATH="$PY_SDK/examples:$PY_SDK${PYTHONPATH:+:$PYTHONPATH}" \
        "$PY" -m subscription.worker > >(sed -u "s/^/  [$name] /") 2>&1 &
    LAST_PID=$!
    WORKER_PIDS+=("$LAST_PID")
}

stop_worker() {   # pid: SIGTERM (a graceful shutdown), then wait
    local pid=$1 _
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}

# Tasks completed by each worker identity in the workflows matching a regex.
identity_table() {   # regex
    psql -X -q -v ON_ERROR_STOP=1 -v re="$1" <<'SQL'
SELECT coalesce(h.attributes->>'identity', '(none)') AS identity,
       count(*) FILTER (WHERE h.event_type = 'WorkflowTaskCompleted') AS "workflow tasks",
       count(*) FILTER (WHERE h.event_type IN ('ActivityTaskCompleted', 'ActivityTaskFailed')) AS "activity tasks",
       count(*) FILTER (WHERE h.event_type = 'WorkflowTaskFailed') AS "failed workflow tasks",
       count(DISTINCT w.workflow_id) AS workflows
  FROM durable.workflows w JOIN durable.history h ON h.run_id = w.run_id
 WHERE w.workflow_id ~ :'re'
   AND h.event_type IN ('WorkflowTaskCompleted', 'WorkflowTaskFailed', 'ActivityTaskCompleted', 'ActivityTaskFailed')
 GROUP BY 1 ORDER BY 1;
SQL
}

# ---------------------------------------------------------------------------
header "worker-1 starts; seven subscription renewals start"

start_worker worker-1
W1=$LAST_PID
info "worker-1: node $(basename "$WORKER_JS"), pid $W1, task queue $TASK_QUEUE"
# (bash's own stderr is muted here, so that it does not report the killed job)
exec 3>&2
{
    DEMO_WORKER_PID=$W1 node "$DEMO_JS" start 2>&3
    START_RC=$?
    wait "$W1"
    status=$?
} 2>/dev/null
exec 3>&-
[ "$START_RC" -eq 0 ] || exit 1
if [ "$status" -eq 137 ]; then
    info "worker-1 (pid $W1) is gone: exit status $status = killed by SIGKILL, no chance to clean up"
else
    warn "worker-1 exited with status $status (expected 137, SIGKILL)"
fi

# ---------------------------------------------------------------------------
if [ "$HAVE_PY" -eq 1 ]; then
    header "worker-2 (TypeScript) and python-1 (Python) start; every workflow must finish, no charge twice"
else
    header "worker-2 starts; every workflow must finish, no charge twice"
    info "(no Python SDK worker: needs sdk/python and $PY with python3-psycopg)"
fi

start_worker worker-2
info "worker-2: pid $LAST_PID"
LATER=worker-2
if [ "$HAVE_PY" -eq 1 ]; then
    start_py_worker python-1
    info "python-1: $PY -m subscription.worker, pid $LAST_PID, the same task queue $TASK_QUEUE"
    LATER=worker-2,python-1
fi
DEMO_LATER_WORKERS=$LATER node "$DEMO_JS" finish
RESULT=$?
printf '\n'
info "tasks completed by each worker identity (from the histories' identity fields):"
identity_table "^(renewal|lifecycle)-[a-z-]+${DEMO_TAG}\$" || RESULT=1

# ---------------------------------------------------------------------------
header "the histories, from SQL: SELECT ... FROM durable.get_history(workflow_id)"

for id in $(psql -X -Atc "SELECT workflow_id FROM durable.workflows
                            WHERE workflow_id ~ ('^(renewal|lifecycle)-[a-z-]+' || '$DEMO_TAG' || '\$')
                            ORDER BY start_time, workflow_id"); do
    printf '\n-- %s\n' "$id"
    psql -X -q -v ON_ERROR_STOP=1 -v wid="$id" <<'SQL' || RESULT=1
SELECT event_id AS "#", event_type, to_char(event_time, 'HH24:MI:SS.MS') AS "time",
       CASE event_type
         WHEN 'WorkflowExecutionStarted' THEN (attributes->>'workflow_type') || (attributes->>'input')
         WHEN 'WorkflowTaskStarted' THEN attributes->>'identity'
         WHEN 'WorkflowTaskCompleted' THEN attributes->>'identity'
         WHEN 'WorkflowTaskFailed' THEN (attributes->>'cause') || ': ' || (attributes->'failure'->>'message')
         WHEN 'WorkflowTaskTimedOut' THEN attributes->>'timeout_type'
         WHEN 'ActivityTaskScheduled' THEN (attributes->>'activity_type') || ' (activity ' || (attributes->>'activity_id') || ')'
         WHEN 'ActivityTaskStarted' THEN 'attempt ' || (attributes->>'attempt') || ' on ' || coalesce(attributes->>'identity', '?')
         WHEN 'ActivityTaskCompleted' THEN 'by ' || coalesce(attributes->>'identity', '?') || ': ' || left(coalesce(attributes->>'result', 'null'), 60)
         WHEN 'ActivityTaskFailed' THEN (attributes->'failure'->>'type') || ': ' || (attributes->'failure'->>'message')
         WHEN 'ActivityTaskTimedOut' THEN coalesce(attributes->'failure'->>'message', 'timed out')
         WHEN 'TimerStarted' THEN 'timer ' || (attributes->>'timer_id') || ', ' || (attributes->>'start_to_fire_timeout')
         WHEN 'TimerFired' THEN 'timer ' || (attributes->>'timer_id')
         WHEN 'MarkerRecorded' THEN attributes->>'marker_name'
         WHEN 'WorkflowExecutionCompleted' THEN 'result ' || coalesce(attributes->>'result', 'null')
         WHEN 'WorkflowExecutionFailed' THEN attributes->'failure'->>'message'
         ELSE ''
       END AS detail
  FROM durable.get_history(:'wid')
 ORDER BY event_id;
SQL
done

if [ "$HAVE_PY" -eq 1 ]; then
    header "one TypeScript worker and one Python worker on one task queue"
    MIXED_QUEUE=subscriptions-mixed$DEMO_TAG
    env TASK_QUEUE="$MIXED_QUEUE" WORKER_IDENTITY=typescript-1 node "$WORKER_JS" > >(sed -u "s/^/  [typescript-1] /") 2>&1 &
    TS_MIXED=$!
    WORKER_PIDS+=("$TS_MIXED")
    start_py_worker python-2 "$MIXED_QUEUE"
    PY_MIXED=$LAST_PID
    info "typescript-1 (node, pid $TS_MIXED) and python-2 (python3, pid $PY_MIXED) poll task queue $MIXED_QUEUE"
    env TASK_QUEUE="$MIXED_QUEUE" DEMO_IDENTITIES=typescript-1,python-2 PYTHONDONTWRITEBYTECODE=1 PYTHONSAFEPATH=1 \
        PYTHONPATH="$PY_SDK/examples:$PY_SDK${PYTHONPATH:+:$PYTHONPATH}" \
        "$PY" -m subscription.demo mixed || RESULT=1
    stop_worker "$TS_MIXED"
    stop_worker "$PY_MIXED"
fi

header "result"
if [ "$RESULT" -eq 0 ]; then
    info "every workflow finished after the SIGKILL of worker-1, and no charge ran twice"
    [ "$HAVE_PY" -eq 1 ] && info "a TypeScript and a Python worker served one task queue together"
else
    warn "the demo's checks failed (see above)"
fi
exit "$RESULT"
