"""Workflows of the subscription example: deterministic, no I/O; activities do the work.

The twins of sdk/typescript/examples/subscription/workflows.ts, command for
command: the same activity types, arguments, options and order, the same
timer, signal ("cancel"), query ("getStatus") and patch ("add-fraud-check"),
so that either SDK can replay a history the other wrote.
"""
import re
from datetime import timedelta

from durable import workflow
from durable.common import RetryPolicy

# as the TypeScript example's proxyActivities options
ACTIVITY_OPTIONS = dict(
    start_to_close_timeout=timedelta(seconds=30),
    retry_policy=RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=60),
        maximum_attempts=5,
        non_retryable_error_types=["InvalidAccountError"],
    ),
)

_UNITS = {"ms": 0.001, "s": 1, "sec": 1, "second": 1, "seconds": 1, "m": 60, "min": 60, "minute": 60,
          "minutes": 60, "h": 3600, "hour": 3600, "hours": 3600, "d": 86400, "day": 86400, "days": 86400}


def parse_period(p) -> timedelta:
    """A period as the TypeScript example takes it: a number of milliseconds, or "8s", "30 days", "2h"..."""
    if isinstance(p, (int, float)):
        return timedelta(milliseconds=p)
    m = re.fullmatch(r"\s*([\d.]+)\s*([a-zA-Z]*)\s*", str(p))
    if not m or (m.group(2) or "ms") not in _UNITS:
        raise ValueError(f"bad period {p!r}")
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2) or "ms"])


@workflow.defn(name="subscriptionRenewal")
class SubscriptionRenewal:
    """Charge, extend, confirm; a declined charge is notified; a failed extension is compensated by a refund."""

    @workflow.run
    async def run(self, customer_id: str) -> None:
        charge = await workflow.execute_activity("chargePaymentMethod", customer_id, **ACTIVITY_OPTIONS)
        if not charge["success"]:
            await workflow.execute_activity("notifyPaymentFailed", customer_id, **ACTIVITY_OPTIONS)
            return None
        try:
            await workflow.execute_activity("extendSubscription", args=[customer_id, "1-month"], **ACTIVITY_OPTIONS)
        except Exception:
            await workflow.execute_activity("refundCharge", charge["transactionId"], **ACTIVITY_OPTIONS)  # compensation
            raise
        await workflow.execute_activity("sendRenewalConfirmation", customer_id, **ACTIVITY_OPTIONS)
        return None


@workflow.defn(name="subscriptionLifecycle")
class SubscriptionLifecycle:
    """Renew, then wait `period` for the next renewal unless a `cancel` signal comes first; `getStatus`
    tells where it is; a fraud check added later is guarded by patched("add-fraud-check").

    The status dict has the TypeScript example's keys (customerId, state, renewals, nextRenewal,
    cancelReason), so a query answers alike whichever SDK's worker holds the run."""

    def __init__(self) -> None:
        self.status = {"customerId": None, "state": "starting", "renewals": 0, "nextRenewal": None,
                       "cancelReason": None}
        self.cancelled = False

    @workflow.signal(name="cancel")
    def cancel(self, reason=None) -> None:
        self.cancelled = True
        self.status["cancelReason"] = reason

    @workflow.query(name="getStatus")
    def get_status(self) -> dict:
        return self.status

    @workflow.run
    async def run(self, customer_id: str, options: dict = None) -> dict:
        options = options or {}
        status = self.status
        status["customerId"] = customer_id
        period = parse_period(options.get("period", "30 days"))
        max_renewals = options.get("maxRenewals")
        while True:
            status["state"] = "renewing"
            if workflow.patched("add-fraud-check"):
                ok = await workflow.execute_activity("checkFraud", customer_id, **ACTIVITY_OPTIONS)
                if not ok:
                    status["state"] = "fraud_suspected"
                    return status
            charge = await workflow.execute_activity("chargePaymentMethod", customer_id, **ACTIVITY_OPTIONS)
            if not charge["success"]:
                await workflow.execute_activity("notifyPaymentFailed", customer_id, **ACTIVITY_OPTIONS)
                status["state"] = "payment_failed"
                return status
            try:
                await workflow.execute_activity("extendSubscription", args=[customer_id, "1-month"],
                                                **ACTIVITY_OPTIONS)
            except Exception:
                await workflow.execute_activity("refundCharge", charge["transactionId"], **ACTIVITY_OPTIONS)
                raise
            await workflow.execute_activity("sendRenewalConfirmation", customer_id, **ACTIVITY_OPTIONS)
            status["renewals"] += 1
            if max_renewals is not None and status["renewals"] >= max_renewals:
                status["state"] = "done"
                return status

            status["state"] = "waiting"
            nxt = workflow.now() + period     # deterministic time
            status["nextRenewal"] = nxt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{nxt.microsecond // 1000:03d}Z"
            # wait for the next renewal unless cancelled first: a timer, cancelled if the signal wins
            try:
                await workflow.wait_condition(lambda: self.cancelled, timeout=period)
            except TimeoutError:
                pass
            if self.cancelled:
                status["state"] = "cancelled"
                return status
