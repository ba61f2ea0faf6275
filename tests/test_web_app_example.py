"""examples/web_app.py: web handlers start, approve and follow orders a worker process runs.

The application is driven in this process through httpx's ASGI transport; the
worker is ``beluga-workflow worker examples/web_workflows.py --forever`` in a
process of its own, on the same SQLite file.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import signal
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the web example needs FastAPI: pip install fastapi")
httpx = pytest.importorskip("httpx")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("web_app_example", EXAMPLES / "web_app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def eventually(http: Any, path: str, key: str, expected: Any) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for _ in range(300):
        answer = await http.get(path)
        body = answer.json()
        if answer.status_code == 200 and body.get(key) == expected:
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"{path} never had {key}={expected!r}: {body}")


async def test_the_web_app_starts_approves_and_follows_orders_a_worker_process_runs(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'orders.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BELUGA_WORKFLOW_")}
    worker = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "beluga_workflow.cli", "worker", "examples/web_workflows.py"),
        *("--forever", "--poll", "0.05", "--store", url),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        app = load_example().create_app(url)
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://orders") as http,
        ):
            created = await http.post("/orders", json={"order_id": "A-1", "amount": 120})
            assert created.status_code == 202, created.text
            assert created.json()["workflow_id"] == "order-A-1"
            again = await http.post("/orders", json={"order_id": "A-1", "amount": 120})
            assert again.status_code == 202, again.text  # a retried request: the same run
            assert again.json() == created.json()
            other = await http.post("/orders", json={"order_id": "A-1", "amount": 999})
            assert other.status_code == 409
            await eventually(http, "/orders/A-1", "stage", "awaiting approval")
            pending = await http.get("/orders/A-1/result", params={"wait": 0.1})
            assert pending.status_code == 504

            decided = await http.post("/orders/A-1/approval", json={"approved": True, "by": "ana"})
            assert decided.status_code == 202
            done = await http.get("/orders/A-1/result", params={"wait": 20})
            assert done.status_code == 200, done.text
            assert done.json()["result"] == {
                "approved": True,
                "by": "ana",
                "charged": 120,
                "receipt": "RC-A-1",
            }
            assert (await http.get("/orders/A-1/result")).json()["result"]["by"] == "ana"
            shown = await eventually(http, "/orders/A-1", "status", "completed")
            assert shown["stage"] == "done"
            late = await http.post("/orders/A-1/approval", json={"approved": True, "by": "bo"})
            assert late.status_code == 409

            await http.post("/orders", json={"order_id": "B-2", "amount": 5})
            await eventually(http, "/orders/B-2", "stage", "awaiting approval")
            assert (await http.delete("/orders/B-2")).status_code == 202
            canceled = await http.get("/orders/B-2/result", params={"wait": 20})
            assert canceled.status_code == 409
            assert (await http.get("/orders/nope")).status_code == 404
            bad = await http.post("/orders", json={"order_id": "", "amount": -1})
            assert bad.status_code == 422
    finally:
        worker.send_signal(signal.SIGTERM)
        _, errors = await asyncio.wait_for(worker.communicate(), 60)
    assert worker.returncode == 130, errors.decode()  # stopped by SIGTERM, runs handed back
