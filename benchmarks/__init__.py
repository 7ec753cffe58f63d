"""Benchmarks of seqxent against peer tools (not part of the installed package)."""
