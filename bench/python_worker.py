"""The Python SDK side of the chain3 benchmark (bench/run --python): one worker
process polling TASK_QUEUE until SIGTERM, the twin of bench/sdk/worker.ts.
Workflows are started by bench/worker (--mode start) with type "chain3";
bench/run watches durable.workflows for the closes.

The workflow and the activity are those of bench/sdk/workflows.ts and
worker.ts: three `step` activities one after the other, step(i) returns i,
start_to_close 30 s; so the histories are alike event for event.

Environment: DATABASE_URL (or DSN), TASK_QUEUE (python), MAX_WFT / MAX_ACT
(default 8 and 20, the TypeScript SDK's defaults), SDK_EAGER=0 (eager=False)
and SDK_STICKY=0 (passed on when the Worker has such an option),
SDK_STATS=<file> (the worker's counters and CPU, written at exit).  The SDK is imported from
sdk/python of this repository unless `durable` is importable already.
Prints "ready" once the worker is constructed.
"""
import asyncio
import inspect
import json
import os
import resource
import signal
import sys
from datetime import timedelta

try:
    import durable  # noqa: F401  (an installed SDK)
except ImportError:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sdk", "python"))

from durable import activity, workflow  # noqa: E402
from durable.client import Client  # noqa: E402
from durable.worker import Worker  # noqa: E402


@activity.defn(name="step")
async def step(i: int) -> int:
    return i


@workflow.defn(name="chain3")
class Chain3:
    @workflow.run
    async def run(self, *args) -> int:
        r = 0
        for i in range(1, 4):
            r = await workflow.execute_activity("step", i, start_to_close_timeout=timedelta(seconds=30))
        return r


def worker_options():
    """The options bench/sdk/worker.ts sets, for those the Python Worker has."""
    opts = {
        "task_queue": os.environ.get("TASK_QUEUE", "python"),
        "workflows": [Chain3],
        "activities": [step],
    }
    # each SDK runs at its own defaults (the TypeScript worker's are 8 / 20,
    # the Python worker's 2 / 20: docs in sdk/python/README.md); MAX_WFT /
    # MAX_ACT override them
    if os.environ.get("MAX_WFT"):
        opts["max_concurrent_workflow_tasks"] = int(os.environ["MAX_WFT"])
    if os.environ.get("MAX_ACT"):
        opts["max_concurrent_activities"] = int(os.environ["MAX_ACT"])
    optional = {
        "identity": "bench-python",
        "eager": os.environ.get("SDK_EAGER") != "0",
        "max_cached_workflows": 0 if os.environ.get("SDK_STICKY") == "0" else 1000,
        "poll_wait": timedelta(seconds=5),
        "graceful_shutdown_timeout": timedelta(seconds=2),
    }
    params = inspect.signature(Worker).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    for k, v in optional.items():
        if k in params or takes_any:
            opts[k] = v
    return opts


async def main():
    dsn = os.environ.get("DATABASE_URL") or os.environ["DSN"]
    client = await Client.connect(dsn, identity="bench-python")
    worker = Worker(client, **worker_options())
    print("ready", flush=True)
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    try:
        await worker.run()
    except asyncio.CancelledError:
        pass
    finally:
        await client.close()
        path = os.environ.get("SDK_STATS")
        if path:
            ru = resource.getrusage(resource.RUSAGE_SELF)
            stats = {"completed": dict(getattr(worker, "completed", None) or {})}
            stats["cpu"] = {"user": ru.ru_utime, "system": ru.ru_stime}
            with open(path, "w") as f:
                f.write(json.dumps(stats, default=str) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
