"""The workflow behind examples/web_app.py: an order that waits for a person's approval.

Workers run it; the web application only starts, signals and reads it::

    beluga-workflow worker examples/web_workflows.py --forever --store sqlite:///orders.db

Workers register it as ``web_workflows:approve_order`` (module, then function),
the name the web application starts it by. It publishes its ``stage`` as a
durable event, so any process can show where the order is.
"""

from __future__ import annotations

from typing import Any

from beluga_workflow import RetryPolicy, WorkflowContext

NAME = "web_workflows:approve_order"
"""The name a worker registers :func:`approve_order` under, and clients start it by."""


async def charge(order: dict[str, Any]) -> dict[str, Any]:
    """Stands in for a payment call (an activity: run at least once, recorded)."""
    return {"charged": order["amount"], "receipt": f"RC-{order['order_id']}"}


async def approve_order(ctx: WorkflowContext, order: dict[str, Any]) -> dict[str, Any]:
    await ctx.set_event("stage", "awaiting approval")
    try:
        decision = await ctx.wait_for_signal("approval", timeout=order.get("timeout", 3600))
    except TimeoutError:
        await ctx.set_event("stage", "expired")
        return {"approved": False, "reason": "no approval in time"}
    if not decision.get("approved"):
        await ctx.set_event("stage", "rejected")
        return {"approved": False, "by": decision.get("by")}
    await ctx.set_event("stage", "charging")
    receipt = await ctx.execute_activity(charge, order, retry=RetryPolicy(max_attempts=3))
    await ctx.set_event("stage", "done")
    return {"approved": True, "by": decision.get("by"), **receipt}
