"""Stage `seqxent evaluate`: metrics.json, per-record predictions, decisions, plots, provenance."""
