"""Networks, self-describing checkpoints and the inference engine."""
