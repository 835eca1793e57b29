"""Benchmarks.  See bench/README.md for the convention."""
