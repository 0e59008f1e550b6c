"""The interactive path's predictor: the LSTM's forward pass in numpy, mixed with the Kneser-Ney n-gram.

No TensorFlow here: a keystroke costs a fraction of a millisecond, not a 2 s import and a 35 ms
`model.predict`. A test holds `lstm_probs` equal to the Keras model to 1e-5.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from autocomplete.mixing import mixed, widen
from autocomplete.ngram import KneserNey
from autocomplete.vocab import UNKNOWN_ID, Vocabulary

# The names of the arrays in weights.npz, in the order of the Keras layers' weights.
WEIGHT_NAMES = (
    "embedding",  # (V, E)
    "lstm_kernel",  # (E, 4H), gates in Keras order: input, forget, candidate, output
    "lstm_recurrent",  # (H, 4H)
    "lstm_bias",  # (4H,)
    "hidden_kernel",  # (H, D)
    "hidden_bias",  # (D,)
    "output_kernel",  # (D, V)
    "output_bias",  # (V,)
)


@dataclass(frozen=True)
class LstmWeights:
    embedding: np.ndarray
    lstm_kernel: np.ndarray
    lstm_recurrent: np.ndarray
    lstm_bias: np.ndarray
    hidden_kernel: np.ndarray
    hidden_bias: np.ndarray
    output_kernel: np.ndarray
    output_bias: np.ndarray

    @classmethod
    def from_arrays(cls, arrays) -> LstmWeights:
        return cls(**{name: np.asarray(arrays[name], dtype=np.float32) for name in WEIGHT_NAMES})

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in WEIGHT_NAMES}

    @property
    def vocab_size(self) -> int:
        return self.embedding.shape[0]

    def check_shapes(self) -> None:
        """Raise ValueError if the arrays do not chain into one network."""
        (v, e), (e2, h4), (h, h4b) = self.embedding.shape, self.lstm_kernel.shape, self.lstm_recurrent.shape
        d = self.hidden_kernel.shape[1]
        ok = (
            e == e2 and h4 == h4b == 4 * h and self.lstm_bias.shape == (4 * h,)
            and self.hidden_kernel.shape == (h, d) and self.hidden_bias.shape == (d,)
            and self.output_kernel.shape == (d, v) and self.output_bias.shape == (v,)
        )  # fmt: skip
        if not ok:
            raise ValueError("the weight arrays' shapes do not fit together")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # overflow-free form of 1 / (1 + exp(-x))


def lstm_probs(w: LstmWeights, context_ids) -> np.ndarray:
    """The network's softmax after reading the context: (context,) -> (F,), or (batch, context) -> (batch, F).

    F = w.vocab_size: the LSTM knows the first F ids of the vocabulary (the most frequent words); a context id
    beyond them is read as the unknown marker, whose output is "some other word" (see `mixing.widen`)."""
    units = w.lstm_recurrent.shape[0]
    ids = np.asarray(context_ids, dtype=np.int64)
    ids = np.where(ids < w.vocab_size, ids, UNKNOWN_ID)
    inputs = w.embedding[ids] @ w.lstm_kernel + w.lstm_bias  # (..., N, 4H)
    h = np.zeros(inputs.shape[:-2] + (units,), np.float32)
    c = np.zeros_like(h)
    for t in range(inputs.shape[-2]):
        z = inputs[..., t, :] + h @ w.lstm_recurrent
        gates = _sigmoid(z)  # one call for the three sigmoid gates (the candidate's slice goes unused)
        i, f, o = gates[..., :units], gates[..., units : 2 * units], gates[..., 3 * units :]
        c = f * c + i * np.tanh(z[..., 2 * units : 3 * units])
        h = o * np.tanh(c)
    hidden = np.maximum(h @ w.hidden_kernel + w.hidden_bias, 0.0)
    e = hidden @ w.output_kernel + w.output_bias  # the logits, turned into the softmax in place
    e -= e.max(axis=-1, keepdims=True)
    np.exp(e, out=e)
    e /= e.sum(axis=-1, keepdims=True)
    return e


class Predictor:
    """p(next word | context): lstm_weight * LSTM (widened to the vocabulary) + (1 - lstm_weight) * n-gram.

    `next_word_probs` is what every consumer (predict, the REPL, evaluate) calls; answers are cached
    by context, and the cached arrays are read-only.
    """

    def __init__(
        self,
        vocab: Vocabulary,
        context_size: int,
        lstm: LstmWeights | None = None,
        ngram: KneserNey | None = None,
        lstm_weight: float = 1.0,
        cache_size: int = 512,
    ):
        if lstm is None and ngram is None:
            raise ValueError("a predictor needs an LSTM, an n-gram model or both")
        if lstm is not None and lstm.vocab_size > len(vocab):
            raise ValueError(f"the vocabulary has {len(vocab)} words but the LSTM's has {lstm.vocab_size}")
        self.vocab, self.context_size = vocab, context_size
        self.lstm, self.ngram = lstm, ngram
        self.lstm_weight = 1.0 if ngram is None else 0.0 if lstm is None else float(lstm_weight)
        self._cached = lru_cache(maxsize=cache_size)(self._compute)

    def next_word_probs(self, context_ids) -> np.ndarray:
        """p(. | the last context_size ids), shape (V,), float32, read-only."""
        return self._cached(tuple(int(i) for i in context_ids)[-self.context_size :])

    def uncached_probs(self, context_ids) -> np.ndarray:
        return self._compute(tuple(int(i) for i in context_ids)[-self.context_size :])

    def batch_probs(self, contexts: np.ndarray) -> np.ndarray:
        """Uncached p(. | context) for many contexts at once: (batch, context_size) -> (batch, V), float64."""
        ngram_p = None
        if self.ngram is not None:
            ngram_p = np.array([self.ngram.next_word_probs(c) for c in contexts], dtype=np.float64)
        if self.lstm_weight <= 0.0:
            return ngram_p
        lstm_p = widen(lstm_probs(self.lstm, contexts).astype(np.float64), len(self.vocab), ngram_p)
        return mixed(lstm_p, ngram_p, self.lstm_weight)

    def clear_cache(self) -> None:
        self._cached.cache_clear()

    def _compute(self, context: tuple[int, ...]) -> np.ndarray:
        ngram_p = self.ngram.next_word_probs(context) if self.ngram is not None else None
        if self.lstm_weight <= 0.0:
            probs = ngram_p
        else:  # a fresh array either way: the cache hands it out read-only
            probs = widen(lstm_probs(self.lstm, context), len(self.vocab), ngram_p)
            probs = mixed(probs, ngram_p, self.lstm_weight)
        probs.flags.writeable = False
        return probs
