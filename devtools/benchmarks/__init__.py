"""Benchmarks for `make bench` (the bench command), one module per subject."""
