"""Stage `seqxent calibrate`: temperature scaling, novelty scores and the k-mer reference."""
