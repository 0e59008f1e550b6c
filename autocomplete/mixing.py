"""The mixing maths shared by the predictor that ships and the validation that chooses it.

The LSTM predicts the first F ids of the vocabulary itself (F: its `lstm_vocab_size`, the most frequent
words); its unknown-marker output is the probability of any other word. `widen` spreads that output over
the other words by the n-gram's shares, and the shipped distribution is
`weight * widen(LSTM) + (1 - weight) * n-gram`, with the weight from `best_weight_on_grid`.
"""

from __future__ import annotations

import numpy as np

from autocomplete.vocab import UNKNOWN_ID

# The LSTM's shares in the mix that validation tries: 0, 0.05, ..., 1.
WEIGHT_GRID = np.linspace(0.0, 1.0, 21)


def widen(lstm_p: np.ndarray, vocab_size: int, ngram_p: np.ndarray | None = None) -> np.ndarray:
    """The LSTM's (..., F) distribution over the whole vocabulary, (..., V).

    Its unknown-marker output is the probability of any other word (the rarer words, ids F.., and the
    unknown marker), shared among them in proportion to the n-gram's probabilities (evenly without an
    n-gram, or where the n-gram gives them nothing). F == V returns `lstm_p` itself. Slices, not fancy
    indexing: this runs on every uncached keystroke."""
    f = lstm_p.shape[-1]
    if f >= vocab_size:
        return lstm_p
    u = slice(UNKNOWN_ID, UNKNOWN_ID + 1)
    out = np.empty(lstm_p.shape[:-1] + (vocab_size,), lstm_p.dtype)
    out[..., :f] = lstm_p
    if ngram_p is not None:
        out[..., f:] = ngram_p[..., f:]
        out[..., u] = ngram_p[..., u]
        total = out[..., f:].sum(axis=-1, keepdims=True) + out[..., u]
    else:
        total = np.zeros(lstm_p.shape[:-1] + (1,), lstm_p.dtype)
    even = total <= 0  # no n-gram, or it gives the other words nothing: share evenly
    if even.any():
        out[..., f:] = np.where(even, 1.0, out[..., f:])
        out[..., u] = np.where(even, 1.0, out[..., u])
        total = np.where(even, vocab_size - f + 1, total)
    scale = lstm_p[..., u] / total
    out[..., f:] *= scale
    out[..., u] *= scale
    return out


def target_shares(targets: np.ndarray, lstm_vocab_size: int, vocab_size: int, ngram_p=None) -> np.ndarray:
    """Each target's share of the LSTM output that holds its probability, as `widen` gives it: 1 for the
    LSTM's own words, else the word's share of "other word". targets (n,), ngram_p (n, V) or None -> (n,)."""
    other = np.zeros((len(targets), lstm_vocab_size), np.float64 if ngram_p is None else ngram_p.dtype)
    other[:, UNKNOWN_ID] = 1.0  # an LSTM that says only "another word": widen returns the shares themselves
    shares = widen(other, vocab_size, ngram_p)
    return np.where(targets < lstm_vocab_size, 1.0, shares[np.arange(len(targets)), targets])


def lstm_output_column(targets: np.ndarray, lstm_vocab_size: int) -> np.ndarray:
    """The LSTM output that holds each target's probability: its own, or "other word"."""
    return np.where(targets < lstm_vocab_size, targets, UNKNOWN_ID)


def mixed(lstm_p: np.ndarray, ngram_p: np.ndarray | None, weight: float) -> np.ndarray:
    """weight * lstm_p + (1 - weight) * ngram_p, both over the whole vocabulary (lstm_p already widened);
    lstm_p itself without an n-gram."""
    if ngram_p is None or weight >= 1.0:
        return lstm_p
    if weight <= 0.0:
        return ngram_p
    return lstm_p * lstm_p.dtype.type(weight) + ngram_p * lstm_p.dtype.type(1.0 - weight)


def best_weight_on_grid(lstm_p: np.ndarray, ngram_p: np.ndarray) -> tuple[float, float, float]:
    """(the weight on WEIGHT_GRID whose mix gives the targets the lowest perplexity, that perplexity, the
    LSTM's own) from each target's probability under the LSTM (widened) and the n-gram, both (n,)."""
    mix = WEIGHT_GRID[:, None] * lstm_p + (1 - WEIGHT_GRID[:, None]) * ngram_p
    losses = -np.log(np.maximum(mix, 1e-300)).mean(axis=1)
    best = int(np.argmin(losses))
    return float(WEIGHT_GRID[best]), float(np.exp(losses[best])), float(np.exp(losses[-1]))


def perplexity(p: np.ndarray) -> float:
    """exp(mean -log p) of the targets' probabilities (n,)."""
    return float(np.exp(-np.log(np.maximum(p, 1e-300)).mean()))
