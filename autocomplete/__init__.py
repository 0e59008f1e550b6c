"""autocomplete: terminal next-word suggestions from a per-corpus LSTM language model."""

__version__ = "0.1.0"
