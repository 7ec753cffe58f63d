"""Stage `seqxent report`: the self-contained HTML report."""
