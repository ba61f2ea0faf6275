"""Stores shipped inside the core distribution."""
