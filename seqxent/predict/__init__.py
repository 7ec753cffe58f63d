"""Stage `seqxent predict` (and `shard`, `merge`): streaming prediction and output formats."""
