"""Stage `seqxent ablation`: the loss-variant ablation summary."""
