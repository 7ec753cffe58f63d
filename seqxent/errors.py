"""The error type that seqxent raises for bad input, so the CLI can report it without a traceback."""


class InputError(ValueError):
    """Bad user input: a file, record, column or argument that seqxent cannot use.

    The message names the file, the record and the problem, e.g.
    ``data/x.fasta: record 'seq7': invalid dna character(s): 'Z' at position 12``.
    """
