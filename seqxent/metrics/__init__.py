"""Metrics (one definition each, for the model and every baseline) and bootstrap intervals."""
