"""Worker of the subscription example:

    PYTHONPATH=sdk/python/examples DATABASE_URL=postgresql:///mydb python3 -m subscription.worker

Creates the example's tables if needed, then polls task queue "subscriptions"
(TASK_QUEUE) as WORKER_IDENTITY (default: the SDK's) until SIGINT/SIGTERM,
then shuts down gracefully.  Prints "ready" once it polls.
"""
import asyncio
import os
import signal
import sys

if __package__ in (None, ""):       # run as a file: python3 sdk/python/examples/subscription/worker.py
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
try:
    import durable  # noqa: F401
except ImportError:                 # not installed: the SDK of this checkout
    sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

from durable.client import Client  # noqa: E402
from durable.worker import Worker  # noqa: E402

from subscription.activities import SubscriptionActivities, create_schema  # noqa: E402
from subscription.workflows import SubscriptionLifecycle, SubscriptionRenewal  # noqa: E402


async def run_worker(dsn, task_queue="subscriptions", identity=None, stop: asyncio.Event = None, on_ready=None):
    """Run a worker until `stop` is set (or the task is cancelled); on_ready() once it polls."""
    await create_schema(dsn)
    client = await Client.connect(dsn, identity=identity)
    acts = await SubscriptionActivities.connect(dsn)
    worker = Worker(client, task_queue=task_queue, workflows=[SubscriptionRenewal, SubscriptionLifecycle],
                    activities=acts.all(), identity=identity, max_concurrent_activities=10)
    try:
        async with worker:
            if on_ready:
                on_ready()
            if stop is None:
                await asyncio.Event().wait()
            else:
                await stop.wait()
    finally:
        await acts.close()
        await client.close()


async def main():
    dsn = os.environ.get("DATABASE_URL")
    if not dsn:
        print("set DATABASE_URL", file=sys.stderr)
        sys.exit(2)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await run_worker(dsn, os.environ.get("TASK_QUEUE", "subscriptions"), os.environ.get("WORKER_IDENTITY"), stop,
                     on_ready=lambda: print("ready", flush=True))


if __name__ == "__main__":
    asyncio.run(main())
