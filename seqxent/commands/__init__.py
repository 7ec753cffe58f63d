"""One module per ``seqxent`` subcommand, each with ``add_arguments(parser)`` and ``run(args)``."""
