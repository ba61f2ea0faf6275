"""Reusable contract suite for beluga-workflow store providers."""
