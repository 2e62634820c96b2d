"""Start a few renewals and print their outcome:

    PYTHONPATH=sdk/python/examples DATABASE_URL=... python3 -m subscription.starter alice invalid-bob noext-carol
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

from durable.client import Client  # noqa: E402
from durable.exceptions import WorkflowFailureError  # noqa: E402

from subscription.workflows import SubscriptionRenewal  # noqa: E402


async def main(customers):
    client = await Client.connect(os.environ["DATABASE_URL"])
    queue = os.environ.get("TASK_QUEUE", "subscriptions")
    stamp = int(time.time() * 1000)
    handles = [await client.start_workflow(SubscriptionRenewal.run, c, id=f"renewal-{c}-{stamp}", task_queue=queue)
               for c in customers]
    for h in handles:
        try:
            await h.result()
            print(f"{h.id}: completed")
        except WorkflowFailureError as e:
            cause = e.cause
            inner = getattr(cause, "cause", None) or getattr(cause, "__cause__", None)
            print(f"{h.id}: {e.status}: {cause} ({getattr(inner, 'type', '')})")
    await client.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:] or ["alice", "invalid-bob", "noext-carol", "declined-dave"]))
