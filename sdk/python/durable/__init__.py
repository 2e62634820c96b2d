"""durable: a Python worker SDK for durable, Temporal-style durable execution
inside PostgreSQL. Names follow Temporal's Python SDK:

    from durable import workflow, activity
    from durable.client import Client
    from durable.worker import Worker, Replayer
"""
from . import activity, workflow  # noqa: F401

__version__ = "0.3.0"
