"""The subscription-renewal example of sdk/typescript/examples/subscription, in Python.

Same workflow types (subscriptionRenewal, subscriptionLifecycle), activity
types, signal, query, patch id and payloads as the TypeScript example, so that
a Python worker and a TypeScript worker can serve one task queue and each
other's workflows (demo/run does).  Run from a checkout:

    PYTHONPATH=sdk/python/examples:sdk/python DATABASE_URL=postgresql:///mydb \\
        python3 -m subscription.worker
    PYTHONPATH=sdk/python/examples:sdk/python DATABASE_URL=postgresql:///mydb \\
        python3 -m subscription.starter alice invalid-bob noext-carol declined-dave
"""
