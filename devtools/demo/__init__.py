"""Demo data for `make run` (the seed_demo command), one module per app."""
