"""Stage `seqxent train`: configuration, losses, objective, training loop and resume."""
