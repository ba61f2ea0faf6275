"""Plugin discovery and the records plugins return."""

from beluga_workflow.plugins.provider import StoreProvider

__all__ = ["StoreProvider"]
