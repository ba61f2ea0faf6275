"""The version of the store contract (rules are listed in the provider guide's changelog)."""

from __future__ import annotations

__all__ = ["CONTRACT_VERSION"]

CONTRACT_VERSION = "1.6"
"""Raised in the minor part when rules are added, in the major part when one changes."""
