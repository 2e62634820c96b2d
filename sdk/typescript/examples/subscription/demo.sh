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
#  4. starts worker-2, waits for every workflow to finish and checks, from the
#     activities' own tables, that no charge ran twice;
#  5. prints each workflow's history with durable.get_history.
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

# Is $1 (an sdk/typescript folder) built from its current sources, with dependencies?
built() {
    local d=$1 out=$1/dist/examples/subscription/demo.js
    [ -f "$out" ] && [ -f "$d/dist/examples/subscription/worker.js" ] && [ -d "$d/node_modules/pg" ] || return 1
    [ -z "$(find "$d/src" "$d/examples" "$d/package.json" "$d/tsconfig.json" -newer "$out" \
              \( -name '*.ts' -o -name '*.json' \) -print -quit 2>/dev/null)" ]
}

npm_env=(env HOME="$TMPD/home" npm_config_cache="$TMPD/npm-cache" npm_config_update_notifier=false
         npm_config_fund=false npm_config_audit=false)

build_sdk() {   # build the SDK in folder $1
    local d=$1 log=$TMPD/npm.log
    mkdir -p "$TMPD/home"
    if [ ! -d "$d/node_modules/pg" ] || [ ! -d "$d/node_modules/typescript" ]; then
        info "npm ci (in $d)"
        if ! (cd "$d" && "${npm_env[@]}" npm ci --loglevel=error >"$log" 2>&1); then
            warn "npm ci failed; trying npm install"
            cat "$log" >&2
            if ! (cd "$d" && "${npm_env[@]}" npm install --loglevel=error >"$log" 2>&1); then
                cat "$log" >&2
                if [ "$d" != "$SDK_SRC" ] && [ -d "$SDK_SRC/node_modules/typescript" ]; then
                    warn "npm install failed too; using a copy of $SDK_SRC/node_modules"
                    rm -rf "$d/node_modules" && cp -a "$SDK_SRC/node_modules" "$d/node_modules" || return 1
                else
                    return 1
                fi
            fi
        fi
    fi
    info "npm run build (tsc)"
    (cd "$d" && "${npm_env[@]}" npm run build --silent >"$log" 2>&1) || { cat "$log" >&2; return 1; }
}

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    warn "node and npm are needed (Node 20+)"; exit 1
fi
info "node $(node --version), npm $(npm --version 2>/dev/null)"
if built "$SDK_SRC"; then
    SDK=$SDK_SRC
    info "dist/ is up to date in $SDK"
elif [ -w "$SDK_SRC" ] && { [ ! -e "$SDK_SRC/dist" ] || [ -w "$SDK_SRC/dist" ]; } &&
     { [ ! -e "$SDK_SRC/node_modules" ] || [ -w "$SDK_SRC/node_modules" ]; }; then
    SDK=$SDK_SRC
    build_sdk "$SDK" || { warn "SDK build failed"; exit 1; }
else
    SDK=$TMPD/sdk
    info "$SDK_SRC is not writable by $(id -un): building a copy in $SDK"
    mkdir -p "$SDK"
    tar -C "$SDK_SRC" --exclude=./node_modules --exclude=./dist -cf - . | tar -C "$SDK" -xf - ||
        { warn "copy failed"; exit 1; }
    build_sdk "$SDK" || { warn "SDK build failed"; exit 1; }
fi
DEMO_JS=$SDK/dist/examples/subscription/demo.js
WORKER_JS=$SDK/dist/examples/subscription/worker.js

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
header "worker-2 starts; every workflow must finish, no charge twice"

start_worker worker-2
info "worker-2: pid $LAST_PID"
node "$DEMO_JS" finish
RESULT=$?

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

header "result"
if [ "$RESULT" -eq 0 ]; then
    info "every workflow finished after the SIGKILL of worker-1, and no charge ran twice"
else
    warn "the demo's checks failed (see above)"
fi
exit "$RESULT"
