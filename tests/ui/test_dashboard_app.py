"""The dashboard's routes without a browser: refusals that change nothing, and missing runs."""

from __future__ import annotations

import asyncio

from starlette.testclient import TestClient

from beluga_workflow import WorkflowStatus
from beluga_workflow.providers.inmemory import InMemoryStore
from beluga_workflow.ui import create_app
from tests.ui.seeding import RUNNING, seed


def _client() -> tuple[TestClient, InMemoryStore]:
    store = InMemoryStore()
    asyncio.run(seed(store))
    return TestClient(create_app(store)), store


def test_an_action_without_the_page_token_is_refused_and_changes_nothing() -> None:
    client, store = _client()
    response = client.post(f"/runs/{RUNNING}/cancel", data={"token": "guessed"})
    assert response.status_code == 403
    state = asyncio.run(store.load(RUNNING))
    assert state is not None
    assert state.status is WorkflowStatus.RUNNING


def test_an_unknown_run_or_action_is_not_found() -> None:
    client, _ = _client()
    assert client.get("/runs/nope").status_code == 404
    assert "No workflow nope" in client.get("/runs/nope").text
    assert client.post(f"/runs/{RUNNING}/explode", data={}).status_code == 404


def test_payloads_are_escaped_and_the_fragment_is_only_the_live_part() -> None:
    client, _ = _client()
    page = client.get("/?q=<script>")
    assert "<script>" not in page.text.split("<main>")[1].split("</main>")[0]
    fragment = client.get(f"/runs/{RUNNING}?fragment=1")
    assert fragment.status_code == 200
    assert 'id="timeline"' in fragment.text
    assert "<html" not in fragment.text


def test_runs_filter_by_a_range_of_update_times_and_keep_it_across_pages() -> None:
    client, store = _client()
    states = asyncio.run(store.list())
    bulk = sorted(s.updated_at for s in states if s.workflow_id.startswith("bulk-"))
    after, before = bulk[5], bulk[10]  # bulk[5] .. bulk[9]: five runs
    page = client.get(
        "/",
        params={
            "after": after.replace(tzinfo=None).isoformat(),
            "before": before.replace(tzinfo=None).isoformat(),
        },
    )
    assert page.status_code == 200
    assert "5 run(s)" in page.text
    assert page.text.count('<tr data-id="bulk-') == 5
    ignored = client.get("/", params={"after": "not a time"})
    assert f"{len(states)} run(s)" in ignored.text
