"""A fresh schema per test on the real PostgreSQL server, dropped afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import psycopg
import pytest

from beluga_workflow import WorkflowStore
from beluga_workflow_contract_tests.outage import OutageProxy
from beluga_workflow_contract_tests.server_checks import Outage
from beluga_workflow_contract_tests.server_contract import OutageFactory
from beluga_workflow_contract_tests.servers import require_server
from beluga_workflow_postgres import PostgresStore

POSTGRES_URL = os.environ.get(
    "BELUGA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
HOW_TO_START = (
    "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start "
    "(or set BELUGA_TEST_POSTGRES_URL)"
)


@pytest.fixture
def postgres_url() -> str:
    parts = urlsplit(POSTGRES_URL)
    require_server("PostgreSQL", parts.hostname or "127.0.0.1", parts.port or 5432, HOW_TO_START)
    return POSTGRES_URL


@pytest.fixture
def schema(postgres_url: str) -> Iterator[str]:
    name = f"bw_test_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        # The test's schema and those it nested in its name (name + suffix).
        found = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, %s)", (name,)
        ).fetchall()
        for (schema_name,) in found:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema_name}" CASCADE')


def through(proxy: OutageProxy, url: str) -> str:
    """``url`` by way of ``proxy``, with a password (the test server trusts; it is ignored)."""
    parts = urlsplit(url)
    return f"postgresql://{parts.username or 'postgres'}:s3cret@127.0.0.1:{proxy.port}{parts.path}"


@pytest.fixture
def outage_factory(postgres_url: str, schema: str) -> OutageFactory:
    """A store on the test's namespace that reaches the server through an OutageProxy."""
    target = urlsplit(postgres_url)

    async def open_cut_off(operation_timeout: float | None) -> tuple[WorkflowStore, Outage]:
        proxy = OutageProxy(target.hostname or "127.0.0.1", target.port or 5432)
        await proxy.start()
        options = {} if operation_timeout is None else {"operation_timeout": operation_timeout}
        return PostgresStore(through(proxy, postgres_url), schema=schema, **options), proxy

    return open_cut_off
