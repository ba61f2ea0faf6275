"""The dashboard's runs page shows runs only: no queue board and no schedule book."""

from __future__ import annotations

import asyncio

from starlette.testclient import TestClient

from beluga_workflow.providers.inmemory import InMemoryStore
from beluga_workflow.ui import create_app
from tests.engine_records_seed import seed


def test_the_runs_page_leaves_engine_records_out() -> None:
    store = InMemoryStore()
    runs = asyncio.run(seed(store, 3))
    client = TestClient(create_app(store))
    for params in ({}, {"status": "completed"}, {"q": "beluga"}):
        page = client.get("/", params=params)
        assert page.status_code == 200
        assert "~beluga/" not in page.text
    page = client.get("/")
    assert "3 run(s)" in page.text
    assert all(f'<tr data-id="{workflow_id}"' in page.text for workflow_id in runs)
    assert "0 run(s)" in client.get("/", params={"q": "beluga"}).text
