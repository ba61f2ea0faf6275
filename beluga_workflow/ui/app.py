"""The dashboard's Starlette application: pages rendered with Jinja2, actions through an Executor.

Every page has a fragment twin (``?fragment=1``) holding only its live part;
the page's script fetches it every couple of seconds, so a running workflow's
timeline moves without a reload. Actions are HTML form posts carrying a token
made when the app starts, so a page on another site cannot post them; each
asks for confirmation in the browser first. Payloads and errors are data:
Jinja2 escapes everything it prints.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from beluga_workflow.errors import BelugaWorkflowError, WorkflowNotFoundError
from beluga_workflow.executor import Executor
from beluga_workflow.models import EventType, Signal, WorkflowStatus
from beluga_workflow.payloads import check_json_value
from beluga_workflow.store import WorkflowStore
from beluga_workflow.ui.listing import RunQuery, list_runs

__all__ = ["REFRESH_SECONDS", "create_app"]

REFRESH_SECONDS = 2.0
"""How often an open page fetches its live part again."""

_TEMPLATES = Path(__file__).with_name("templates")
_ERROR_EVENTS = {EventType.ACTIVITY_FAILED, EventType.WORKFLOW_FAILED}


def pretty(value: Any) -> str:
    """A payload as indented JSON (what the timeline shows)."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def _utc_moment(text: str) -> datetime | None:
    """A time from a form field (``2026-01-31T12:00``), read as UTC; None if empty or bad."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def create_app(store: WorkflowStore, *, close_store: bool = False) -> Starlette:
    """The dashboard for ``store``; with ``close_store`` the app closes it when it stops."""
    token = secrets.token_urlsafe(24)
    templates = Environment(
        loader=FileSystemLoader(_TEMPLATES), autoescape=select_autoescape(), auto_reload=False
    )
    templates.filters["pretty"] = pretty
    templates.filters["quote"] = lambda text: quote(str(text), safe="")
    statuses = [status.value for status in WorkflowStatus]
    templates.globals.update(
        statuses=statuses,
        refresh_ms=int(REFRESH_SECONDS * 1000),
        token=token,
        error_events={event.value for event in _ERROR_EVENTS},
    )

    def page(name: str, status_code: int = 200, **values: Any) -> HTMLResponse:
        return HTMLResponse(templates.get_template(name).render(**values), status_code=status_code)

    async def runs(request: Request) -> Response:
        params = request.query_params
        status = params.get("status", "")
        try:
            number = int(params.get("page", "1"))
        except ValueError:
            number = 1
        after, before = params.get("after", ""), params.get("before", "")
        query = RunQuery(
            status=WorkflowStatus(status) if status in statuses else None,
            workflow_name=params.get("name", ""),
            search=params.get("q", "").strip(),
            updated_after=_utc_moment(after),
            updated_before=_utc_moment(before),
            page=number,
        )
        found = await list_runs(store, query)
        filters = {
            "status": status,
            "name": query.workflow_name,
            "q": query.search,
            "after": after if query.updated_after else "",
            "before": before if query.updated_before else "",
        }

        def link(to_page: int) -> str:
            kept = {key: value for key, value in filters.items() if value}
            return "/?" + urlencode({**kept, "page": to_page})

        template = "_runs.html" if params.get("fragment") else "runs.html"
        return page(template, found=found, filters=filters, link=link)

    async def run(request: Request) -> Response:
        workflow_id = request.path_params["workflow_id"]
        state = await store.load(workflow_id)
        if state is None:
            return page("missing.html", 404, workflow_id=workflow_id)
        template = "_run.html" if request.query_params.get("fragment") else "run.html"
        return page(template, state=state, notice=request.query_params.get("notice", ""))

    async def act(request: Request) -> Response:
        workflow_id = request.path_params["workflow_id"]
        action = request.path_params["action"]
        if action not in ("signal", "cancel"):
            return page("missing.html", 404, workflow_id=workflow_id)
        form = await request.form()
        if not secrets.compare_digest(str(form.get("token", "")), token):
            return page("refused.html", 403, reason="the form's token is missing or wrong")
        try:
            async with Executor(store=store, load_plugins=False) as executor:
                if action == "cancel":
                    await executor.cancel(workflow_id)
                    notice = "cancel requested"
                else:
                    name = str(form.get("name", "")).strip()
                    payload = json.loads(str(form.get("payload", "") or "null"))
                    check_json_value(payload, "signal payload")
                    await executor.signal(workflow_id, Signal(name=name, payload=payload))
                    notice = f"signal {name!r} sent"
        except WorkflowNotFoundError:
            return page("missing.html", 404, workflow_id=workflow_id)
        except (BelugaWorkflowError, ValueError) as exc:
            state = await store.load(workflow_id)
            if state is None:
                return page("missing.html", 404, workflow_id=workflow_id)
            return page("run.html", 400, state=state, notice="", problem=str(exc))
        target = f"/runs/{quote(workflow_id, safe='')}?" + urlencode({"notice": notice})
        return RedirectResponse(target, status_code=303)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if close_store:
                await store.close()

    return Starlette(
        routes=[
            Route("/", runs),
            Route("/runs/{workflow_id:path}/{action:str}", act, methods=["POST"]),
            Route("/runs/{workflow_id:path}", run),
        ],
        lifespan=lifespan,
    )
