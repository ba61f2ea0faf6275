"""An order that needs approval: activities with retries, a durable sleep and a signal.

Run it on an SQLite file, interrupt it, and resume it::

    beluga-workflow run examples/order_approval.py:order_workflow \
        --store sqlite:///orders.db --id order-1 \
        --input '{"order_id": "A-1", "amount": 120, "approval_timeout": 30}'
    # Ctrl-C (or kill -9) while it waits, then:
    beluga-workflow signal order-1 approval '{"approved": true, "by": "ana"}' --store sqlite:///orders.db
    beluga-workflow worker examples/order_approval.py --store sqlite:///orders.db
    beluga-workflow show order-1 --store sqlite:///orders.db

Each activity prints a line when it really runs, so after a restart you can
see that finished steps were replayed from the store, not run again.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from beluga_workflow import RetryPolicy, WorkflowContext

# An activity fails on its first attempt (a flaky payment gateway) to show retries.
_FLAKY_ATTEMPTS: dict[str, int] = {}


def _log(message: str) -> None:
    print(f"  [activity] {message}", file=sys.stderr, flush=True)
    side_effects = os.environ.get("ORDER_SIDE_EFFECTS")
    if side_effects:
        with open(side_effects, "a", encoding="utf-8") as out:
            out.write(message + "\n")


async def reserve_stock(order: dict[str, Any]) -> dict[str, Any]:
    _log(f"reserve stock for {order['order_id']}")
    return {"reservation": f"R-{order['order_id']}"}


async def charge_payment(order: dict[str, Any]) -> dict[str, Any]:
    attempts = _FLAKY_ATTEMPTS[order["order_id"]] = _FLAKY_ATTEMPTS.get(order["order_id"], 0) + 1
    if attempts == 1:
        _log(f"charge {order['amount']} for {order['order_id']}: gateway timeout")
        raise ConnectionError("payment gateway timed out")
    _log(f"charge {order['amount']} for {order['order_id']}")
    return {"payment": f"P-{order['order_id']}", "amount": order["amount"]}


async def ship(order: dict[str, Any]) -> dict[str, Any]:
    _log(f"ship {order['order_id']}")
    return {"tracking": f"T-{order['order_id']}"}


async def refund(order: dict[str, Any]) -> dict[str, Any]:
    _log(f"refund {order['order_id']}")
    return {"refunded": order["amount"]}


async def order_workflow(ctx: WorkflowContext, order: dict[str, Any]) -> dict[str, Any]:
    """Reserve, charge (retried), wait a cooling-off period, then wait for approval.

    ``approval_timeout`` (seconds) bounds the wait for the ``approval`` signal;
    with ``auto_approve`` true the order ships when no answer arrives in time,
    otherwise it is refunded.
    """
    retry = RetryPolicy(max_attempts=5, initial_interval=0.2, backoff_coefficient=2.0)
    reservation = await ctx.execute_activity(reserve_stock, order, retry=retry)
    payment = await ctx.execute_activity(charge_payment, order, retry=retry)
    await ctx.sleep(float(order.get("cooling_off", 1.0)))
    try:
        decision = await ctx.wait_for_signal(
            "approval", timeout=float(order.get("approval_timeout", 60))
        )
    except TimeoutError:
        decision = {"approved": bool(order.get("auto_approve")), "by": "timeout"}
    if not decision.get("approved"):
        refunded = await ctx.execute_activity(refund, order, retry=retry)
        return {"order_id": order["order_id"], "status": "rejected", **refunded}
    shipment = await ctx.execute_activity(ship, order, retry=retry)
    return {
        "order_id": order["order_id"],
        "status": "shipped",
        "approved_by": decision.get("by"),
        **reservation,
        **payment,
        **shipment,
    }
