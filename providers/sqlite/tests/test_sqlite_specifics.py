"""What the contract suite cannot see: layout, migrations, URL forms, corruption, failures."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from pathlib import Path

import pytest

from beluga_workflow import (
    CorruptStateError,
    EventType,
    HistoryEvent,
    ProviderConfigError,
    StoreClosedError,
    StoreError,
    StoreUnavailableError,
    WorkflowFilter,
    WorkflowState,
    WorkflowStatus,
    open_store,
)
from beluga_workflow.listing import unreadable_records
from beluga_workflow_sqlite import SQLiteStore
from beluga_workflow_sqlite.config import SQLiteConfig
from beluga_workflow_sqlite.schema import SCHEMA_VERSION


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///runs.db", "runs.db"),
        ("sqlite:///data/runs.db", "data/runs.db"),
        ("sqlite:////var/lib/runs.db", "/var/lib/runs.db"),
        ("sqlite://:memory:", ":memory:"),
        ("sqlite:///:memory:", ":memory:"),
    ],
)
def test_url_forms(url: str, path: str) -> None:
    assert SQLiteConfig(url=url).path == path


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite://host/runs.db"])
def test_bad_urls_are_config_errors_naming_the_provider(url: str) -> None:
    with pytest.raises(ProviderConfigError, match="'sqlite'"):
        open_store(url)


def test_unknown_synchronous_setting_is_refused() -> None:
    with pytest.raises(ProviderConfigError, match="synchronous"):
        open_store("sqlite:///x.db", synchronous="SOMETIMES")


async def test_query_options_are_options_not_part_of_the_file_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///runs.db?synchronous=NORMAL&busy_timeout=2.5")
    assert isinstance(store, SQLiteStore)
    assert (store.config.synchronous, store.config.busy_timeout) == ("NORMAL", 2.5)
    await store.save(WorkflowState(workflow_id="w"))
    await store.close()
    files = sorted(os.listdir(tmp_path))
    assert [name for name in files if not name.endswith(("-wal", "-shm"))] == ["runs.db"]


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("sqlite:///runs.db?synchronous=SOMETIMES", "synchronous"),
        ("sqlite:///runs.db?busy_timeout=soon", "busy_timeout"),
        ("sqlite:///runs.db?journal=WAL", "unknown option 'journal'"),
        ("sqlite:///?synchronous=NORMAL", "file name"),
    ],
)
def test_bad_query_options_name_the_provider_and_the_option(url: str, named: str) -> None:
    with pytest.raises(ProviderConfigError, match=rf"'sqlite'.*{named}"):
        open_store(url)


def test_a_query_left_in_a_config_url_is_not_a_file_name() -> None:
    with pytest.raises(ValueError, match=r"\?options"):
        SQLiteConfig(url="sqlite:///runs.db?synchronous=NORMAL")


async def test_database_uses_wal_and_records_its_schema_version(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    async with SQLiteStore(str(db)) as store:
        await store.save(WorkflowState(workflow_id="w"))
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


async def test_listing_by_status_uses_the_index(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    async with SQLiteStore(str(db)) as store:
        await store.save(WorkflowState(workflow_id="w"))
    with sqlite3.connect(db) as raw:
        plan = raw.execute(
            "EXPLAIN QUERY PLAN SELECT workflow_id, head FROM workflows WHERE status = ?"
            " ORDER BY created_at, workflow_id LIMIT 10",
            ("running",),
        ).fetchall()
    details = " ".join(str(row[-1]) for row in plan)
    assert "workflows_by_status" in details
    assert "TEMP B-TREE" not in details  # no sort: the index gives the order


async def test_appending_writes_one_event_row_and_keeps_the_rest(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    state = WorkflowState(
        workflow_id="w",
        history=[HistoryEvent(id=i, type=EventType.ACTIVITY_COMPLETED) for i in range(50)],
    )
    async with SQLiteStore(str(db)) as store:
        await store.save(state)
        with sqlite3.connect(db) as raw:
            raw.execute("CREATE TABLE seen (n INTEGER)")
            raw.execute(
                "CREATE TRIGGER count_inserts AFTER INSERT ON history_events"
                " BEGIN INSERT INTO seen VALUES (NEW.seq); END"
            )
            raw.execute(
                "CREATE TRIGGER count_deletes AFTER DELETE ON history_events"
                " BEGIN INSERT INTO seen VALUES (-1); END"
            )
        state.history.append(HistoryEvent(id=50, type=EventType.TIMER_FIRED))
        await store.append(state, 1)
        loaded = await store.load("w")
    assert loaded == state
    with sqlite3.connect(db) as raw:
        assert raw.execute("SELECT n FROM seen").fetchall() == [(50,)]


async def test_compare_and_append_writes_only_the_new_event_rows(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    state = WorkflowState(
        workflow_id="w",
        history=[HistoryEvent(id=i, type=EventType.ACTIVITY_COMPLETED) for i in range(50)],
    )
    async with SQLiteStore(str(db)) as store:
        assert await store.compare_and_append(state, 50, 0) == 1
        with sqlite3.connect(db) as raw:
            raw.execute("CREATE TABLE seen (n INTEGER)")
            raw.execute(
                "CREATE TRIGGER count_inserts AFTER INSERT ON history_events"
                " BEGIN INSERT INTO seen VALUES (NEW.seq); END"
            )
            raw.execute(
                "CREATE TRIGGER count_deletes AFTER DELETE ON history_events"
                " BEGIN INSERT INTO seen VALUES (-1); END"
            )
        state.history.append(HistoryEvent(id=50, type=EventType.TIMER_FIRED))
        assert await store.compare_and_append(state, 1, 1) == 2
        state.metadata = {"lease": "renewed"}
        assert await store.compare_and_append(state, 0, 2) == 3
        loaded = await store.load("w")
    assert loaded == state.model_copy(update={"version": 3})
    with sqlite3.connect(db) as raw:
        assert raw.execute("SELECT n FROM seen").fetchall() == [(50,)]


async def test_compare_and_append_writes_the_state_as_it_was_at_the_call(tmp_path: Path) -> None:
    """The write runs after the call has yielded; changing the state then changes nothing."""
    state = WorkflowState(
        workflow_id="w", history=[HistoryEvent(id=1, type=EventType.WORKFLOW_STARTED)]
    )
    async with SQLiteStore(str(tmp_path / "runs.db")) as store:
        await store.compare_and_append(state, 1, 0)
        state.history.append(HistoryEvent(id=2, type=EventType.ACTIVITY_COMPLETED, result=1))
        written = state.model_copy(update={"version": 2}, deep=True)
        call = asyncio.create_task(store.compare_and_append(state, 1, 1))
        await asyncio.sleep(0)  # the call has taken its values and waits for its turn
        state.status = WorkflowStatus.FAILED
        state.history[-1].result = 2
        state.history.append(HistoryEvent(id=3, type=EventType.TIMER_FIRED))
        assert await call == 2
        assert await store.load("w") == written


async def test_a_corrupted_row_is_named_by_load_and_skipped_with_a_report_by_list(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "runs.db"
    async with SQLiteStore(str(db)) as store:
        await store.save(WorkflowState(workflow_id="good"))
        await store.save(WorkflowState(workflow_id="bad"))
    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE workflows SET head = '{\"status\": 12' WHERE workflow_id = 'bad'")
    async with SQLiteStore(str(db)) as store:
        assert await store.load("good") is not None
        with pytest.raises(CorruptStateError, match="'bad'") as info:
            await store.load("bad")
        assert info.value.workflow_id == "bad"
        listed = await store.list()
        assert [state.workflow_id for state in listed] == ["good"]
        assert list(unreadable_records(listed)) == ["bad"]
        assert "'bad'" in caplog.text


async def test_a_row_holding_another_workflows_state_is_corrupt(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    async with SQLiteStore(str(db)) as store:
        await store.save(WorkflowState(workflow_id="mine"))
        await store.save(WorkflowState(workflow_id="other"))
    with sqlite3.connect(db) as raw:
        raw.execute(
            "UPDATE workflows SET head = (SELECT head FROM workflows WHERE workflow_id = 'other')"
            " WHERE workflow_id = 'mine'"
        )
    async with SQLiteStore(str(db)) as store:
        with pytest.raises(CorruptStateError, match="'mine'") as info:
            await store.load("mine")
        assert info.value.workflow_id == "mine"


async def test_a_newer_schema_is_refused_with_advice(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    with sqlite3.connect(db) as raw:
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    store = SQLiteStore(str(db))
    with pytest.raises(StoreError, match="upgrade"):
        await store.load("w")
    await store.close()


async def test_an_unopenable_path_is_store_unavailable(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "missing-dir" / "runs.db"))
    with pytest.raises(StoreUnavailableError, match=r"runs\.db"):
        await store.save(WorkflowState(workflow_id="w"))
    await store.close()


async def test_two_stores_on_one_file_see_each_other(tmp_path: Path) -> None:
    db = str(tmp_path / "runs.db")
    async with SQLiteStore(db) as first, SQLiteStore(db) as second:
        await asyncio.gather(
            *(first.save(WorkflowState(workflow_id=f"a{i}")) for i in range(50)),
            *(second.save(WorkflowState(workflow_id=f"b{i}")) for i in range(50)),
        )
        assert len(await first.list()) == 100
        assert len(await second.list(WorkflowFilter(status=WorkflowStatus.RUNNING))) == 100


async def test_a_failing_write_in_a_batch_leaves_the_others_committed(tmp_path: Path) -> None:
    async with SQLiteStore(str(tmp_path / "runs.db")) as store:
        await store.save(WorkflowState(workflow_id="w", version=1))
        results = await asyncio.gather(
            store.compare_and_save(WorkflowState(workflow_id="w"), 7),  # stale: refused
            store.save(WorkflowState(workflow_id="x")),
            return_exceptions=True,
        )
        assert isinstance(results[0], StoreError)
        assert results[1] is None
        assert await store.load("x") is not None


async def test_an_append_that_changes_the_status_moves_the_workflow_between_listings(
    tmp_path: Path,
) -> None:
    state = WorkflowState(workflow_id="w")
    async with SQLiteStore(str(tmp_path / "runs.db")) as store:
        await store.save(state)
        state.history.append(HistoryEvent(id=0, type=EventType.ACTIVITY_COMPLETED))
        await store.append(state, 1)  # status unchanged
        state.history.append(HistoryEvent(id=1, type=EventType.WORKFLOW_COMPLETED))
        state.status = WorkflowStatus.COMPLETED
        await store.append(state, 1)
        running = await store.list(WorkflowFilter(status=WorkflowStatus.RUNNING))
        completed = await store.list(WorkflowFilter(status=WorkflowStatus.COMPLETED))
    assert running == []
    assert [found.workflow_id for found in completed] == ["w"]
    assert completed[0].history == state.history


async def test_reads_go_on_while_another_process_holds_the_write_lock(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    config = SQLiteConfig(path=str(db), busy_timeout=0.2)
    async with SQLiteStore(config=config) as store:
        await store.save(WorkflowState(workflow_id="w"))
        writer = sqlite3.connect(db, isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")
        try:
            assert await store.load("w") is not None
            assert len(await store.list()) == 1
            with pytest.raises(StoreUnavailableError, match=r"runs\.db"):
                await store.save(WorkflowState(workflow_id="x"))
        finally:
            writer.execute("ROLLBACK")
            writer.close()
        await store.save(WorkflowState(workflow_id="x"))
        assert await store.load("x") is not None


def _trace_threads(store: SQLiteStore) -> list[tuple[str, str]]:
    """Record (thread name, statement) for every statement the store's connection runs."""
    seen: list[tuple[str, str]] = []
    assert store._connection is not None
    store._connection.set_trace_callback(
        lambda statement: seen.append((threading.current_thread().name, statement))
    )
    return seen


async def test_a_lone_operation_runs_on_the_callers_thread(tmp_path: Path) -> None:
    async with SQLiteStore(str(tmp_path / "runs.db")) as store:
        await store.save(WorkflowState(workflow_id="warm-up"))
        seen = _trace_threads(store)
        await store.save(WorkflowState(workflow_id="w"))
        assert await store.load("w") is not None
    assert seen
    assert {thread for thread, _ in seen} == {threading.current_thread().name}


async def test_operations_submitted_together_share_one_commit_on_the_stores_thread(
    tmp_path: Path,
) -> None:
    async with SQLiteStore(str(tmp_path / "runs.db")) as store:
        await store.save(WorkflowState(workflow_id="warm-up"))
        seen = _trace_threads(store)
        await asyncio.gather(*(store.save(WorkflowState(workflow_id=f"w{i}")) for i in range(20)))
        assert len(await store.list()) == 21
    commits = [thread for thread, statement in seen if statement == "COMMIT"]
    assert commits[0] == "beluga-sqlite"
    assert len(commits) == 2  # the 20 saves, then the listing


async def test_inline_when_idle_off_keeps_every_operation_on_the_stores_thread(
    tmp_path: Path,
) -> None:
    config = SQLiteConfig(path=str(tmp_path / "runs.db"), inline_when_idle=False)
    async with SQLiteStore(config=config) as store:
        await store.save(WorkflowState(workflow_id="warm-up"))
        seen = _trace_threads(store)
        await store.save(WorkflowState(workflow_id="w"))
        assert await store.load("w") is not None
    assert {thread for thread, _ in seen} == {"beluga-sqlite"}


async def test_an_operation_racing_close_finishes_or_is_refused(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "runs.db"))
    await store.save(WorkflowState(workflow_id="warm-up"))
    results = await asyncio.wait_for(
        asyncio.gather(
            store.save(WorkflowState(workflow_id="w")), store.close(), return_exceptions=True
        ),
        timeout=10,
    )
    assert results[0] is None or isinstance(results[0], StoreClosedError)
    assert results[1] is None
    async with SQLiteStore(str(tmp_path / "runs.db")) as reopened:
        stored = await reopened.load("w")
    assert (stored is not None) == (results[0] is None)


async def test_a_lone_operation_never_waits_for_another_process_on_the_event_loop(
    tmp_path: Path,
) -> None:
    db = tmp_path / "runs.db"
    async with SQLiteStore(str(db)) as store:
        await store.save(WorkflowState(workflow_id="warm-up"))
        other = sqlite3.connect(db, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process's write lock
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())
        saving = asyncio.create_task(store.save(WorkflowState(workflow_id="w")))
        await asyncio.sleep(0.5)
        assert not saving.done()  # it waits for the lock...
        assert ticks >= 20  # ...off the event loop, which kept running
        other.execute("ROLLBACK")
        other.close()
        await asyncio.wait_for(saving, timeout=5)
        ticker.cancel()
        assert await store.load("w") is not None
