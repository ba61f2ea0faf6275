"""Names shared by the suite and its pytest plugin; importing this module imports nothing.

The plugin is loaded into every pytest run of an environment where the suite
is installed, so what it needs at start-up must stay this light.
"""

from __future__ import annotations

__all__ = ["NOTE_PROPERTY", "RULE_ATTRIBUTE"]

RULE_ATTRIBUTE = "__beluga_contract_rule__"
"""Attribute of a test function holding its ``Rule``."""

NOTE_PROPERTY = "beluga_contract_note"
"""``user_properties`` key under which a rule records a note for the report."""
