"""The dashboard in a real headless Chromium: list, filter, page, open a run, signal, cancel.

The real ``beluga-workflow ui`` command serves an SQLite file or a PostgreSQL
schema in a subprocess; Playwright drives the Debian ``chromium`` binary.
Outside CI, a machine without it skips with the reason; in CI it fails.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

from beluga_workflow import WorkflowStatus, open_store
from tests.ui.seeding import BULK, FAILED, RUNNING, TO_CANCEL, seed

T = TypeVar("T")
CHROMIUM = "/usr/bin/chromium"
POSTGRES_URL = os.environ.get(
    "BELUGA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)

if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing in CI; .ci/run installs the chromium package")
    pytest.skip(
        f"{CHROMIUM} is missing: apt-get install chromium to run the browser tests",
        allow_module_level=True,
    )

sync_api = pytest.importorskip("playwright.sync_api")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _postgres_url(schema: str) -> str:
    with socket.socket() as probe:
        probe.settimeout(1)
        if probe.connect_ex(("127.0.0.1", 5432)) != 0:
            if os.environ.get("CI"):
                pytest.fail("PostgreSQL is not running on 127.0.0.1:5432")
            pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
    return f"{POSTGRES_URL}?schema={schema}"


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'runs.db'}"
        return
    pytest.importorskip("beluga_workflow_postgres", reason="the postgres provider is not installed")
    schema = f"bw_ui_{uuid.uuid4().hex[:12]}"
    yield _postgres_url(schema)
    import psycopg

    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _off_loop(work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` on a thread of its own: Playwright's sync API holds this thread's loop."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, work).result()


async def _seed(url: str) -> None:
    async with open_store(url) as store:
        await seed(store)


async def _status(url: str, workflow_id: str) -> tuple[WorkflowStatus, list[Any]]:
    async with open_store(url) as store:
        state = await store.load(workflow_id)
        assert state is not None
        return state.status, [
            (e.type.value, e.signal_name, e.signal_payload) for e in state.history
        ]


@pytest.fixture
def dashboard(store_url: str, tmp_path: Path) -> Iterator[str]:
    asyncio.run(_seed(store_url))
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BELUGA_WORKFLOW_")}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "beluga_workflow.cli",
            "ui",
            "--store",
            store_url,
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    deadline = time.monotonic() + 30
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            pytest.fail(f"the dashboard did not start: {server.communicate()[1]}")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=15)


def test_list_filter_open_signal_and_cancel_in_a_browser(
    dashboard: str, store_url: str, tmp_path: Path
) -> None:
    expect = sync_api.expect
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        dialogs: list[str] = []

        def accept(dialog: Any) -> None:
            dialogs.append(dialog.message)
            dialog.accept()

        page.on("dialog", accept)

        # The list: newest first, paged.
        page.goto(dashboard)
        total = BULK + 3
        expect(page.locator("#count")).to_contain_text(f"{total} run(s), page 1 of 2")
        expect(page.locator("#runs tbody tr")).to_have_count(25)
        page.click("#next")
        expect(page.locator("#runs tbody tr")).to_have_count(total - 25)

        # Filters: status, workflow name, id search.
        page.goto(dashboard)
        page.select_option("select[name=status]", "failed")
        page.click("#filters button")
        expect(page.locator("#runs tbody tr")).to_have_count(1)
        expect(page.locator("#runs tbody tr").first).to_have_attribute("data-id", FAILED)
        page.goto(dashboard)
        page.select_option("select[name=name]", "shop:order")
        page.fill("input[name=q]", "waiting")
        page.click("#filters button")
        expect(page.locator("#runs tbody tr")).to_have_count(1)

        # A failed run: its timeline, payloads pretty-printed, errors highlighted.
        page.goto(dashboard + "/?q=failed")
        page.click(f"text={FAILED}")
        expect(page.locator("#status")).to_have_text("failed")
        expect(page.locator("#timeline li")).to_have_count(4)
        expect(page.locator("#timeline li.event-error")).to_have_count(2)
        expect(page.locator("pre.error").first).to_contain_text("card declined")
        assert '"amount": 42' in page.locator("#timeline li").nth(1).inner_text()
        page.screenshot(path=str(tmp_path / "failed-run.png"), full_page=True)

        # Signal a running run with a JSON payload, after confirming.
        page.goto(f"{dashboard}/runs/{RUNNING}")
        page.fill("#signal-form input[name=name]", "approval")
        page.fill("#signal-form textarea[name=payload]", '{"approved": true, "by": "ana"}')
        page.click("#signal-form button")
        expect(page.locator("#notice")).to_have_text("signal 'approval' sent")
        expect(page.locator("#timeline li")).to_have_count(2)  # after the redirect
        assert dialogs == [f"Send this signal to {RUNNING}?"]
        status, history = _off_loop(_status(store_url, RUNNING))
        assert status is WorkflowStatus.RUNNING
        assert history[-1] == ("signal_received", "approval", {"approved": True, "by": "ana"})

        # Bad JSON is refused and changes nothing.
        page.fill("#signal-form input[name=name]", "approval")
        page.fill("#signal-form textarea[name=payload]", "{not json")
        page.click("#signal-form button")
        expect(page.locator("#problem")).to_be_visible()
        assert len(_off_loop(_status(store_url, RUNNING))[1]) == 2

        # Declining the confirmation sends nothing; accepting cancels.
        page.goto(f"{dashboard}/runs/{TO_CANCEL}")
        page.remove_listener("dialog", accept)
        page.once("dialog", lambda dialog: dialog.dismiss())
        page.click("#cancel-form button")
        page.wait_for_timeout(300)
        assert _off_loop(_status(store_url, TO_CANCEL))[0] is WorkflowStatus.RUNNING
        page.on("dialog", accept)
        page.click("#cancel-form button")
        expect(page.locator("#status")).to_have_text("canceled")
        assert _off_loop(_status(store_url, TO_CANCEL))[0] is WorkflowStatus.CANCELED

        # Live refresh: a change made elsewhere shows up without a reload.
        page.goto(f"{dashboard}/runs/{RUNNING}")
        expect(page.locator("#timeline li")).to_have_count(2)
        _off_loop(_signal_elsewhere(store_url))
        expect(page.locator("#timeline li")).to_have_count(3, timeout=10_000)
        page.screenshot(path=str(tmp_path / "running-run.png"), full_page=True)
        browser.close()
    assert (tmp_path / "failed-run.png").stat().st_size > 0


async def _signal_elsewhere(url: str) -> None:
    from beluga_workflow import Executor, Signal

    async with open_store(url) as store, Executor(store, load_plugins=False) as executor:
        await executor.signal(RUNNING, Signal(name="note", payload="from elsewhere"))
