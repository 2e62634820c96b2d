#!/usr/bin/env bash
# The orders demo of the TypeScript SDK: child workflows and updates (run by
# demo/run after the subscription demo, as the postgres user, against its
# private cluster: PGHOST, PGPORT, PGUSER, PGDATABASE).
#
#  1. builds the SDK if dist/ is missing or stale (in a temp copy when the
#     repository is not writable by this user), CREATE EXTENSION durable;
#  2. starts a worker (node dist/examples/orders/worker.js, a separate process)
#     and an `order` workflow; demo.js fills it through the update addItem
#     (one item sent twice with the same update id, one with quantity 0 that
#     the validator rejects), checks out through the update checkout (its
#     result is the total; the order charges it with an activity), tries to add an item after checkout (rejected),
#     shows the shipment children from durable.describe_workflow while they
#     run (one per warehouse; the one in flaky-rotterdam retries an activity),
#     waits for the order's result and checks it;
#  3. prints, from SQL, the order's history (the update and child events),
#     its children (durable.workflows.parent_workflow_id) and the history of
#     the child that retried.
# Exit status 0 when every check passed.  Takes about 10 seconds once built.

set -u
set -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
SDK_SRC=$(cd "$HERE/../.." && pwd -P)
TASK_QUEUE=${TASK_QUEUE:-orders}
export TASK_QUEUE

# header, info, warn: the repository's shared shell helpers
# shellcheck source=../../../../scripts/common.sh
. "$SDK_SRC/../../scripts/common.sh"

TMPD=$(mktemp -d /tmp/durable-sdk-orders.XXXXXX) || exit 1
WORKER_PID=""

# shellcheck disable=SC2317  # (invoked by the trap)
cleanup() {
    local _
    if [ -n "$WORKER_PID" ] && kill -0 "$WORKER_PID" 2>/dev/null; then
        kill -TERM "$WORKER_PID" 2>/dev/null        # graceful shutdown()
        for _ in $(seq 50); do kill -0 "$WORKER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$WORKER_PID" 2>/dev/null
    fi
    [ -n "$WORKER_PID" ] && wait "$WORKER_PID" 2>/dev/null
    rm -rf -- "$TMPD"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------
header "TypeScript SDK: build"

EXAMPLE=orders
# shellcheck source=../build-sdk.sh
. "$HERE/../build-sdk.sh"

# ---------------------------------------------------------------------------
header "database: CREATE EXTENSION durable, the example's tables"

psql -X -q -v ON_ERROR_STOP=1 -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION IF NOT EXISTS durable' || exit 1
info "durable $(psql -X -Atc "SELECT extversion FROM pg_extension WHERE extname = 'durable'") in database ${PGDATABASE:-?} (socket ${PGHOST:-?}, port ${PGPORT:-?})"

urlencode() { node -e 'process.stdout.write(encodeURIComponent(process.argv[1]))' "$1"; }
DATABASE_URL="postgresql://$(urlencode "${PGUSER:-postgres}")@/$(urlencode "${PGDATABASE:-postgres}")?host=$(urlencode "${PGHOST:-/var/run/postgresql}")&port=${PGPORT:-5432}"
export DATABASE_URL

node "$DEMO_JS" setup || exit 1
info "tables order_payments, order_reservations, order_parcels, order_activity_runs (written by the activities)"

# the workflow id must be new: add a suffix if this database already ran the demo
DEMO_TAG=""
if [ "$(psql -X -Atc "SELECT count(*) FROM durable.workflows WHERE workflow_id = 'order-1001'")" != 0 ]; then
    DEMO_TAG="-$(date +%s)"
fi
export DEMO_TAG

# ---------------------------------------------------------------------------
header "a worker starts; an order is filled by updates, checked out, shipped by child workflows"

env WORKER_IDENTITY=worker-orders node "$WORKER_JS" > >(sed -u "s/^/  [worker-orders] /") 2>&1 &
WORKER_PID=$!
info "worker: node $(basename "$WORKER_JS"), pid $WORKER_PID, task queue $TASK_QUEUE"
node "$DEMO_JS" run | tee "$TMPD/run.log"
RESULT=$?
WID=$(sed -n 's/^order: //p' "$TMPD/run.log")
[ -n "$WID" ] || { warn "the demo did not get as far as its checks"; exit 1; }

# ---------------------------------------------------------------------------
header "the order's history, from SQL: SELECT ... FROM durable.get_history('$WID')"

psql -X -q -v ON_ERROR_STOP=1 -v wid="$WID" <<'SQL' || RESULT=1
SELECT event_id AS "#", event_type,
       CASE event_type
         WHEN 'WorkflowExecutionStarted' THEN (attributes->>'workflow_type') || (attributes->>'input')
         WHEN 'WorkflowTaskCompleted' THEN attributes->>'identity'
         WHEN 'WorkflowTaskFailed' THEN (attributes->>'cause') || ': ' || (attributes->'failure'->>'message')
         WHEN 'ActivityTaskScheduled' THEN (attributes->>'activity_type') || ' (activity ' || (attributes->>'activity_id') || ')'
         WHEN 'ActivityTaskCompleted' THEN left(coalesce(attributes->>'result', 'null'), 60)
         WHEN 'WorkflowExecutionUpdateAccepted' THEN 'update ' || (attributes->'accepted_request'->'meta'->>'update_id')
              || ': ' || (attributes->'accepted_request'->'input'->>'name')
              || left(coalesce(attributes->'accepted_request'->'input'->>'args', ''), 70)
         WHEN 'WorkflowExecutionUpdateCompleted' THEN 'update ' || (attributes->'meta'->>'update_id') || ' -> '
              || coalesce(attributes->'outcome'->>'success', 'failure: ' || (attributes->'outcome'->'failure'->>'message'))
         WHEN 'StartChildWorkflowExecutionInitiated' THEN (attributes->>'workflow_type') || ' ' || (attributes->>'workflow_id')
              || ', parent_close_policy ' || (attributes->>'parent_close_policy')
         WHEN 'ChildWorkflowExecutionStarted' THEN attributes->'workflow_execution'->>'workflow_id'
         WHEN 'ChildWorkflowExecutionCompleted' THEN (attributes->'workflow_execution'->>'workflow_id') || ': '
              || left(coalesce(attributes->>'result', 'null'), 60)
         WHEN 'ChildWorkflowExecutionFailed' THEN (attributes->'workflow_execution'->>'workflow_id') || ': '
              || (attributes->'failure'->>'message')
         WHEN 'WorkflowExecutionCompleted' THEN 'result ' || left(coalesce(attributes->>'result', 'null'), 60) || '...'
         ELSE ''
       END AS detail
  FROM durable.get_history(:'wid')
 ORDER BY event_id;
SQL

header "its children, from SQL: durable.workflows.parent_workflow_id"

psql -X -q -v ON_ERROR_STOP=1 -v wid="$WID" <<'SQL' || RESULT=1
SELECT workflow_id, workflow_type, status, parent_workflow_id, parent_initiated_event_id AS initiated_by,
       to_char(close_time - start_time, 'SS.MS"s"') AS took
  FROM durable.workflows
 WHERE parent_workflow_id = :'wid'
 ORDER BY workflow_id;
SQL

FLAKY=$WID-ship-flaky-rotterdam
header "the child that retried, from SQL: durable.get_history('$FLAKY')"

psql -X -q -v ON_ERROR_STOP=1 -v wid="$FLAKY" <<'SQL' || RESULT=1
SELECT event_id AS "#", event_type,
       CASE event_type
         WHEN 'WorkflowExecutionStarted' THEN 'parent ' || coalesce(attributes->'parent_workflow_execution'->>'workflow_id', '?')
         WHEN 'ActivityTaskScheduled' THEN (attributes->>'activity_type') || ' (activity ' || (attributes->>'activity_id') || ')'
         WHEN 'ActivityTaskStarted' THEN 'attempt ' || (attributes->>'attempt')
              || coalesce(', last failure: ' || (attributes->'last_failure'->>'message'), '')
         WHEN 'ActivityTaskCompleted' THEN left(coalesce(attributes->>'result', 'null'), 60)
         WHEN 'ActivityTaskFailed' THEN (attributes->'failure'->>'type') || ': ' || (attributes->'failure'->>'message')
         WHEN 'WorkflowExecutionCompleted' THEN 'result ' || coalesce(attributes->>'result', 'null')
         ELSE ''
       END AS detail
  FROM durable.get_history(:'wid')
 ORDER BY event_id;
SQL

header "result"
if [ "$RESULT" -eq 0 ]; then
    info "every item added once, the bad updates rejected without a trace, every shipment child completed"
else
    warn "the demo's checks failed (see above)"
fi
exit "$RESULT"
