"""Reproducible benchmarks of beluga-workflow; run with ``python -m benchmarks``."""
