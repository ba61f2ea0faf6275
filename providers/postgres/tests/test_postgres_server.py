"""Outages, unreachable servers, concurrent writers and the layout on the real server."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import psycopg
import pytest

from beluga_workflow import (
    EventType,
    HistoryEvent,
    ProviderConfigError,
    StoreUnavailableError,
    WorkflowState,
    WorkflowStore,
    open_store,
)
from beluga_workflow_contract_tests.outage import OutageProxy
from beluga_workflow_contract_tests.server_contract import (
    ServerStoreContract,
    UnreachableFactory,
)
from beluga_workflow_postgres import PostgresStore
from beluga_workflow_postgres.config import PostgresConfig

OUTAGE_STOP_SECONDS = 3.0
"""What docs/providers/postgres.md says a running workflow needs to stop in an outage."""


class TestPostgresServer(ServerStoreContract):
    provider_name = "postgres"
    outage_secret = "s3cret"
    outage_stop_seconds = OUTAGE_STOP_SECONDS

    def check_outage_error(self, error: StoreUnavailableError) -> None:
        assert "postgres store at postgresql://" in str(error)
        assert ":***@127.0.0.1" in str(error)

    @pytest.fixture
    def unreachable_factory(self) -> UnreachableFactory:
        def open_unreachable() -> WorkflowStore:
            return PostgresStore(
                f"postgresql://app:s3cret@127.0.0.1:{closed_port()}/db",
                operation_timeout=1.0,
                connect_timeout=1.0,
            )

        return open_unreachable

    @pytest.fixture
    def store_factory(self, postgres_url: str, schema: str) -> Callable[[], WorkflowStore]:
        return lambda: PostgresStore(postgres_url, schema=schema)


async def test_a_step_inserts_one_row_with_only_its_new_events(
    postgres_url: str, schema: str
) -> None:
    store = PostgresStore(postgres_url, schema=schema)
    try:
        state = WorkflowState(
            workflow_id="w",
            history=[HistoryEvent(id=i, type=EventType.ACTIVITY_COMPLETED) for i in range(20)],
        )
        await store.save(state)
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            before = conn.execute(
                f'SELECT xmin::text, seq FROM "{schema}".history_events ORDER BY seq'
            ).fetchall()
        state.history.append(HistoryEvent(id=20, type=EventType.TIMER_FIRED))
        state.history.append(HistoryEvent(id=21, type=EventType.ACTIVITY_STARTED))
        await store.append(state, 2)
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            after = conn.execute(
                f'SELECT xmin::text, seq FROM "{schema}".history_events ORDER BY seq'
            ).fetchall()
        assert len(before) == 1  # a save writes the history as one row
        assert after[:1] == before  # the step did not rewrite it
        assert [seq for _, seq in after] == [0, 20]
        assert await store.load("w") == state
        await store.save(state)  # and a save folds the runs back into one row
        assert await store.load("w") == state
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            rows = conn.execute(f'SELECT seq FROM "{schema}".history_events').fetchall()
        assert rows == [(0,)]
    finally:
        await store.close()


async def test_compare_and_append_inserts_one_row_with_only_its_new_events(
    postgres_url: str, schema: str
) -> None:
    def rows() -> list[tuple[str, int]]:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            found = conn.execute(
                f'SELECT xmin::text, seq FROM "{schema}".history_events ORDER BY seq'
            ).fetchall()
        return [(xmin, seq) for xmin, seq in found]

    async with PostgresStore(postgres_url, schema=schema) as store:
        state = WorkflowState(
            workflow_id="w",
            history=[HistoryEvent(id=i, type=EventType.ACTIVITY_COMPLETED) for i in range(20)],
        )
        assert await store.compare_and_append(state, 20, 0) == 1
        created = rows()
        state.history.append(HistoryEvent(id=20, type=EventType.TIMER_FIRED))
        state.history.append(HistoryEvent(id=21, type=EventType.ACTIVITY_STARTED))
        assert await store.compare_and_append(state, 2, 1) == 2
        stepped = rows()
        state.metadata = {"lease": "renewed"}
        assert await store.compare_and_append(state, 0, 2) == 3
        assert await store.load("w") == state.model_copy(update={"version": 3})
    assert [seq for _, seq in created] == [0]  # created whole, as one row
    assert stepped[:1] == created  # the step did not rewrite it
    assert [seq for _, seq in stepped] == [0, 20]
    assert rows() == stepped  # a head-only write adds no row


async def test_rows_of_one_event_each_still_load_and_extend(postgres_url: str, schema: str) -> None:
    """Histories written one row per event (as releases before runs did) stay readable."""
    state = WorkflowState(
        workflow_id="w",
        history=[HistoryEvent(id=i, type=EventType.ACTIVITY_COMPLETED) for i in range(3)],
    )
    async with PostgresStore(postgres_url, schema=schema) as store:
        await store.save(state)
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f'DELETE FROM "{schema}".history_events')
            for seq, event in enumerate(state.history):
                conn.execute(
                    f'INSERT INTO "{schema}".history_events VALUES (%s, %s, %s)',
                    ("w", seq, event.model_dump_json()),
                )
        assert await store.load("w") == state
        state.history.append(HistoryEvent(id=3, type=EventType.TIMER_FIRED))
        await store.append(state, 1)
        assert await store.load("w") == state


async def test_listing_by_status_uses_the_index(postgres_url: str, schema: str) -> None:
    store = PostgresStore(postgres_url, schema=schema)
    await store.save(WorkflowState(workflow_id="w"))
    await store.close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("SET enable_seqscan = off")
        conn.execute("SET enable_bitmapscan = off")
        plan = conn.execute(
            f'EXPLAIN SELECT workflow_id FROM "{schema}".workflows WHERE status = %s'
            " ORDER BY created_at, workflow_id LIMIT 10",
            ("running",),
        ).fetchall()
    text = " ".join(row[0] for row in plan)
    assert "workflows_by_status" in text
    assert "Sort" not in text


def test_bad_options_name_the_provider_without_the_password() -> None:
    with pytest.raises(ProviderConfigError, match="'postgres'") as info:
        open_store("postgresql://app:s3cret@db/x", schema="Bad-Name")
    assert "s3cret" not in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://",
        "postgresql:///test",
        "postgres://app:s3cret@/db",
        "user=postgres dbname=test password=s3cret",
    ],
)
def test_a_url_that_names_no_server_is_refused_and_a_socket_directory_is_one(url: str) -> None:
    with pytest.raises(ProviderConfigError, match=r"'postgres'.*names no server") as info:
        open_store({"provider": "postgres", "url": url})
    assert "s3cret" not in str(info.value)
    for socket_url in (
        "postgresql://%2Frun%2Fpostgresql/test",
        "postgresql:///test?host=/run/postgresql",
    ):
        assert PostgresConfig(url=socket_url).url == socket_url


@pytest.mark.parametrize(
    ("option", "named"),
    [("sslmode=bogus", "sslmode"), ("nosuch=1", "nosuch"), ("target_session_attrs=x", "target")],
)
async def test_options_libpq_refuses_are_invalid_configuration_not_an_outage(
    postgres_url: str, schema: str, option: str, named: str
) -> None:
    store = open_store(f"{postgres_url}?{option}", schema=schema, connect_timeout=0.2)
    with pytest.raises(ProviderConfigError, match=rf"'postgres'.*{named}") as info:
        await store.load("w")
    await store.close()
    assert "is the server running" not in str(info.value)


async def test_query_options_and_connection_strings_reach_the_server(
    postgres_url: str, schema: str
) -> None:
    parts = urlsplit(postgres_url)
    dsn = (
        f"host={parts.hostname} port={parts.port or 5432} user={parts.username} "
        f"dbname={parts.path.lstrip('/')} application_name='beluga workflow'"
    )
    for spec in (
        f"{postgres_url}?schema={schema}&application_name=bw&pool_max_size=2",
        {"provider": "postgres", "url": dsn, "schema": schema},
    ):
        store = open_store(spec)
        assert isinstance(store, PostgresStore)
        assert store.config.schema_name == schema
        await store.save(WorkflowState(workflow_id="w"))
        assert await store.load("w") is not None
        await store.close()


def closed_port() -> int:
    """A local port with nothing listening on it."""
    return OutageProxy("127.0.0.1", 1).port
