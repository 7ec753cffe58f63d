"""Stage `seqxent ood`: score the records of held-out (novel) classes against the test split."""
