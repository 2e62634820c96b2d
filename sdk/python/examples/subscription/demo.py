"""Driver of the demo's mixed part (sdk/typescript/examples/subscription/demo.sh runs it, demo/run runs
that): a TypeScript worker and a Python worker poll one task queue; this starts renewals and
lifecycles there, waits for every one to close, checks outcomes and the activities' tables, and
prints from the histories how many tasks each worker identity completed.

    python3 -m subscription.demo mixed      (PYTHONPATH=sdk/python/examples:sdk/python)

Environment: DATABASE_URL, TASK_QUEUE (subscriptions-mixed), DEMO_TAG (suffix of the workflow ids),
DEMO_IDENTITIES (the workers' identities, comma-separated: each must have completed tasks),
DEMO_TIMEOUT (seconds, 60).  Exit status 0 when every check passes.
"""
import asyncio
import os
import sys
import time

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
try:
    import durable  # noqa: F401
except ImportError:
    sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

import psycopg  # noqa: E402

from durable.client import Client  # noqa: E402
from durable.exceptions import WorkflowFailureError  # noqa: E402

from subscription.activities import create_schema  # noqa: E402

TAG = os.environ.get("DEMO_TAG", "")
QUEUE = os.environ.get("TASK_QUEUE", "subscriptions-mixed")

# (workflow type, customer, args, expected outcome, charge rows)
CASES = [("subscriptionRenewal", c, [c], o, n) for c, o, n in (
    ("mixed-amy", "completed", 1), ("mixed-ben", "completed", 1), ("mixed-cat", "completed", 1),
    ("mixed-dan", "completed", 1), ("mixed-eve", "completed", 1), ("mixed-fay", "completed", 1),
    ("invalid-mixed-gus", "InvalidAccountError", 0), ("declined-mixed-hal", "completed", 0),
    ("noext-mixed-ida", "ExtensionRejected", 1), ("flaky-mixed-jon", "completed", 1),
    ("slow-mixed-kim", "completed", 1), ("mixed-lou", "completed", 1))] + [
    ("subscriptionLifecycle", "mixed-max", ["mixed-max", {"period": "1s", "maxRenewals": 3}], "completed", 3),
    ("subscriptionLifecycle", "mixed-ned", ["mixed-ned", {"period": "1s", "maxRenewals": 3}], "completed", 3),
]


def wid(case):
    kind = "lifecycle" if case[0] == "subscriptionLifecycle" else "renewal"
    return f"{kind}-{case[1]}{TAG}"


def failure_type(e):
    err = e.cause
    while getattr(err, "cause", None) is not None or err.__cause__ is not None:
        err = getattr(err, "cause", None) or err.__cause__
    return getattr(err, "type", type(err).__name__)


async def mixed():
    dsn = os.environ["DATABASE_URL"]
    identities = [s for s in os.environ.get("DEMO_IDENTITIES", "").split(",") if s]
    await create_schema(dsn)
    client = await Client.connect(dsn)
    db = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
    t0 = time.time()
    handles = []
    for case in CASES:
        handles.append(await client.start_workflow(case[0], args=case[2], id=wid(case), task_queue=QUEUE))
    print(f"  started {len(CASES)} workflows on task queue {QUEUE} "
          f"({sum(c[0] == 'subscriptionRenewal' for c in CASES)} renewals, "
          f"{sum(c[0] == 'subscriptionLifecycle' for c in CASES)} lifecycles of 3 renewals 1 s apart)")
    ok = True

    def check(cond, what):
        nonlocal ok
        if not cond:
            ok = False
            print(f"  FAIL: {what}")

    timeout = float(os.environ.get("DEMO_TIMEOUT", "60"))
    for case, h in zip(CASES, handles):
        try:
            await asyncio.wait_for(h.result(), max(1.0, timeout - (time.time() - t0)))
            got = "completed"
        except WorkflowFailureError as e:
            got = failure_type(e)
        except asyncio.TimeoutError:
            got = "still running"
        charges = (await (await db.execute("SELECT count(*) FROM charges WHERE workflow_id = %s",
                                           (wid(case),))).fetchone())[0]
        check(got == case[3], f"{wid(case)}: expected {case[3]}, got {got}")
        check(charges == case[4], f"{wid(case)}: {charges} charge rows, expected {case[4]}")
    print(f"  every workflow closed after {time.time() - t0:.1f} s; outcomes and charge rows as expected"
          if ok else "  outcomes or charges differ (above)")

    ids = [wid(c) for c in CASES]
    rows = await (await db.execute("""
        SELECT coalesce(h.attributes->>'identity', '(none)') AS identity,
               count(*) FILTER (WHERE h.event_type = 'WorkflowTaskCompleted') AS wft,
               count(*) FILTER (WHERE h.event_type IN ('ActivityTaskCompleted', 'ActivityTaskFailed')) AS act,
               count(DISTINCT w.workflow_id) AS workflows
          FROM durable.workflows w JOIN durable.history h ON h.run_id = w.run_id
         WHERE w.workflow_id = ANY(%s)
           AND h.event_type IN ('WorkflowTaskCompleted', 'ActivityTaskCompleted', 'ActivityTaskFailed')
         GROUP BY 1 ORDER BY 1""", (ids,))).fetchall()
    print("")
    print("  tasks completed, by worker identity (the identity field of the history's events):")
    print(f"  {'identity':<28} {'workflow tasks':>14} {'activity tasks':>15} {'workflows':>10}")
    for r in rows:
        print(f"  {r[0]:<28} {r[1]:>14} {r[2]:>15} {r[3]:>10}")
    seen = {r[0]: r[1] + r[2] for r in rows}
    for ident in identities:
        check(seen.get(ident, 0) > 0, f"worker {ident} completed no task")
    both = (await (await db.execute("""
        SELECT count(*) FROM (
          SELECT w.workflow_id FROM durable.workflows w JOIN durable.history h ON h.run_id = w.run_id
           WHERE w.workflow_id = ANY(%s) AND h.event_type = 'WorkflowTaskCompleted'
           GROUP BY 1 HAVING count(DISTINCT h.attributes->>'identity') > 1) x""", (ids,))).fetchone())[0]
    print(f"  workflows whose workflow tasks ran on both workers: {both} (sticky execution keeps a run on the worker"
          f"\n  that has it cached; above, after the SIGKILL, runs a TypeScript worker began were finished by the others)")
    failed = (await (await db.execute("""
        SELECT count(*) FROM durable.workflows w JOIN durable.history h ON h.run_id = w.run_id
         WHERE w.workflow_id = ANY(%s) AND h.event_type = 'WorkflowTaskFailed'""", (ids,))).fetchone())[0]
    print(f"  failed workflow tasks (a non-determinism between the SDKs would show here): {failed}")
    check(failed == 0, f"{failed} workflow tasks failed")
    print("")
    print("  ALL CHECKS PASSED: one task queue, two SDKs, every workflow finished." if ok else "  SOME CHECKS FAILED")
    await db.close()
    await client.close()
    return 0 if ok else 1


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd != "mixed":
        print("usage: demo.py mixed", file=sys.stderr)
        return 2
    return asyncio.run(mixed())


if __name__ == "__main__":
    sys.exit(main())
