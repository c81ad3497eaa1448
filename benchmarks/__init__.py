"""Benchmarks of mozaik_arrow against the stores users have today (see README.md here)."""
