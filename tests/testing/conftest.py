"""The test kit's own fixtures, as a project enables them."""

from __future__ import annotations

from beluga_workflow.testing.fixtures import workflow_environment

__all__ = ["workflow_environment"]
