"""Pytest fixtures of the test kit.

Enable them in a ``conftest.py``: ``pytest_plugins = ["beluga_workflow.testing.fixtures"]``.
"""

from __future__ import annotations

import pytest

from beluga_workflow.testing.time_skipping import WorkflowEnvironment

__all__ = ["workflow_environment"]


@pytest.fixture
def workflow_environment() -> WorkflowEnvironment:
    """A fresh :class:`WorkflowEnvironment` on an in-memory store (register workflows on it)."""
    return WorkflowEnvironment()
