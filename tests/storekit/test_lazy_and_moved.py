"""Lazy exports, and the old import paths kept for a release."""

from __future__ import annotations

import subprocess
import sys

import pytest

from beluga_workflow.storekit import lazy_exports


def test_lazy_exports_import_on_first_use_and_refuse_other_names() -> None:
    getattr_ = lazy_exports("demo", {"dumps": "json"})

    import json

    assert getattr_("dumps") is json.dumps
    with pytest.raises(AttributeError, match="has no attribute 'loads'"):
        getattr_("loads")


def test_importing_the_kit_or_a_provider_package_loads_no_store_module() -> None:
    code = (
        "import sys, beluga_workflow.storekit, beluga_workflow_redis\n"
        "import beluga_workflow.providers.inmemory\n"
        "print(sorted(m for m in sys.modules if m.startswith('redis')\n"
        "    or (m.endswith('.store') and m != 'beluga_workflow.store')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_old_paths_still_work() -> None:
    from beluga_workflow.chunked import CommitRecord as OldCommitRecord
    from beluga_workflow.providers.inmemory import InMemoryStore
    from beluga_workflow.providers.inmemory.factory import create_store as old_factory
    from beluga_workflow.providers.inmemory.store import create_store
    from beluga_workflow.storekit.chunking import CommitRecord

    assert OldCommitRecord is CommitRecord
    assert old_factory is create_store
    assert isinstance(create_store(None), InMemoryStore)  # type: ignore[arg-type]
