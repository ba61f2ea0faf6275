"""A web application that starts, approves and follows orders that workers run.

The handlers hold no workflow code: a :class:`~beluga_workflow.Client` on the
shared store starts runs by name, signals them and reads their status and
durable events, while ``beluga-workflow worker examples/web_workflows.py
--forever`` processes (as many as you like) run them. Try it::

    export BELUGA_WORKFLOW_STORE=sqlite:///orders.db
    beluga-workflow worker examples/web_workflows.py --forever &
    uvicorn --app-dir examples web_app:app
    curl -X POST localhost:8000/orders -H 'content-type: application/json' \
        -d '{"order_id": "A-1", "amount": 120}'
    curl localhost:8000/orders/A-1              # stage: awaiting approval
    curl -X POST localhost:8000/orders/A-1/approval -H 'content-type: application/json' \
        -d '{"approved": true, "by": "ana"}'
    curl 'localhost:8000/orders/A-1/result?wait=5'

Needs FastAPI (``pip install fastapi uvicorn``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from pydantic import BaseModel, Field

from beluga_workflow import (
    Client,
    WorkflowCanceledError,
    WorkflowError,
    WorkflowFailedError,
    WorkflowIdConflictError,
    WorkflowNotFoundError,
)

WORKFLOW = "web_workflows:approve_order"
"""The name workers register the order workflow under (examples/web_workflows.py)."""


class Order(BaseModel):
    order_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    amount: float = Field(gt=0)


class Decision(BaseModel):
    approved: bool
    by: str = Field(min_length=1)


def _workflow_id(order_id: str) -> str:
    return f"order-{order_id}"


def _client(request: Request) -> Client:
    client: Client = request.app.state.client
    return client


def create_app(store: str | Mapping[str, Any] | None = None) -> FastAPI:
    """The application on ``store`` (default ``$BELUGA_WORKFLOW_STORE``), opened at startup."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with Client(store) as client:
            app.state.client = client
            yield

    app = FastAPI(title="orders", lifespan=lifespan)

    @app.post("/orders", status_code=202)
    async def create_order(order: Order, request: Request) -> dict[str, str]:
        """Start the order's workflow; a worker runs it. The order id is the idempotency key."""
        try:
            handle = await _client(request).start(
                WORKFLOW, order.model_dump(), id=_workflow_id(order.order_id)
            )
        except WorkflowIdConflictError:  # a retry returns the run; other details are refused
            raise HTTPException(409, f"order {order.order_id} exists with other details") from None
        return {"workflow_id": handle.id, "run_id": handle.run_id}

    @app.post("/orders/{order_id}/approval", status_code=202)
    async def decide(order_id: str, decision: Decision, request: Request) -> dict[str, str]:
        """Send the decision; stored when this returns, taken in by the worker at once."""
        try:
            await _client(request).signal(_workflow_id(order_id), "approval", decision.model_dump())
        except WorkflowNotFoundError:
            raise HTTPException(404, f"no order {order_id}") from None
        except WorkflowError as exc:  # it has finished
            raise HTTPException(409, str(exc)) from None
        return {"sent": "approval"}

    @app.get("/orders/{order_id}")
    async def show(order_id: str, request: Request) -> dict[str, Any]:
        """Where the order is: its status and the stage its workflow published."""
        client = _client(request)
        try:
            state = await client.describe(_workflow_id(order_id))
        except WorkflowNotFoundError:
            raise HTTPException(404, f"no order {order_id}") from None
        stage = await client.get_event(state.workflow_id, "stage")
        return {"status": state.status.value, "stage": stage, "result": state.result}

    @app.get("/orders/{order_id}/result")
    async def result(order_id: str, request: Request, wait: float = 0) -> dict[str, Any]:
        """The workflow's result, waiting up to ``wait`` seconds for it (504 if still running)."""
        try:
            handle = await _client(request).get_handle(_workflow_id(order_id))
            async with asyncio.timeout(max(0.0, min(wait, 30.0))):
                value = await handle.result()
        except WorkflowNotFoundError:
            raise HTTPException(404, f"no order {order_id}") from None
        except TimeoutError:
            raise HTTPException(504, f"order {order_id} is still in progress") from None
        except (WorkflowFailedError, WorkflowCanceledError) as exc:
            raise HTTPException(409, str(exc)) from None
        return {"result": value}

    @app.delete("/orders/{order_id}", status_code=202)
    async def cancel(order_id: str, request: Request) -> dict[str, str]:
        """Cancel the order's workflow; the worker stops its work."""
        try:
            await _client(request).cancel(_workflow_id(order_id))
        except WorkflowNotFoundError:
            raise HTTPException(404, f"no order {order_id}") from None
        return {"canceled": order_id}

    return app


app = create_app(os.environ.get("BELUGA_WORKFLOW_STORE"))
