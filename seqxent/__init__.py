"""seqxent: 1D-CNN classifiers for biological sequences, trained with cross-entropy."""

__version__ = "0.1.0"
