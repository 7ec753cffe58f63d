"""Shared data layer: alphabets, readers and writers, the prepared table, batching, label sets."""
