"""Stage `seqxent baseline`: k-mer baselines and peer tools on the same split."""
