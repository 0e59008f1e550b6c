"""What validation chooses: the mixing weight, the best epoch, when to stop. No Keras here.

Early stopping watches the validation perplexity of the predictor that ships rather than the LSTM's own
loss (the evidence is in benchmarks/results/tuning.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from autocomplete import mixing
from autocomplete.inference import LstmWeights, lstm_probs
from autocomplete.ngram import KneserNey
from autocomplete.vocab import FIRST_WORD_ID

_CHUNK = 512  # windows per numpy batch


@dataclass(frozen=True)
class Validation:
    """The validation perplexity of the predictor that ships, for any LSTM weights, and the mixing weight that
    gets it.

    Scored over the real words the training part has shown: a word first met in the validation tail has n-gram
    probability 0 there, which would pull the weight towards the LSTM, while the n-gram that ships, counted on
    every line, knows all of them. The n-gram's part is computed once; each call runs only the LSTM."""

    contexts: np.ndarray  # (n, N) the windows scored
    column: np.ndarray  # (n,) the LSTM output holding each target's probability: its own, or "other word"
    share: np.ndarray  # (n,) the target's share of that output, as `mixing.widen` gives it
    ngram_p: np.ndarray | None  # (n,) the n-gram's probability of each target; None: the LSTM alone

    @classmethod
    def build(
        cls, contexts, targets, lstm_vocab_size: int, vocab_size: int, ngram: KneserNey | None
    ) -> Validation | None:
        """None when the tail has no word to score."""
        keep = targets >= FIRST_WORD_ID
        if ngram is not None:
            keep &= ngram.unigram[targets] > 0
        contexts, targets = contexts[keep], targets[keep]
        if not len(targets):
            return None
        if ngram is None:
            share, ngram_p = mixing.target_shares(targets, lstm_vocab_size, vocab_size), None
        else:
            share, ngram_p = np.empty(len(targets)), np.empty(len(targets))
            for i in range(0, len(targets), _CHUNK):
                y = targets[i : i + _CHUNK]
                p = np.array([ngram.next_word_probs(c) for c in contexts[i : i + _CHUNK]])
                ngram_p[i : i + _CHUNK] = p[np.arange(len(y)), y]
                share[i : i + _CHUNK] = mixing.target_shares(y, lstm_vocab_size, vocab_size, p)
        return cls(contexts, mixing.lstm_output_column(targets, lstm_vocab_size), share, ngram_p)

    def best_mix(self, lstm: LstmWeights) -> tuple[float, float, float]:
        """(the LSTM's share in the mix, 0..1 in steps of 0.05; the validation perplexity at that share; the
        LSTM's own)."""
        p_lstm = np.empty(len(self.column))
        for i in range(0, len(self.column), _CHUNK):
            column = self.column[i : i + _CHUNK]
            p = lstm_probs(lstm, self.contexts[i : i + _CHUNK])
            p_lstm[i : i + _CHUNK] = p[np.arange(len(column)), column]
        p_lstm *= self.share
        if self.ngram_p is None:
            alone = mixing.perplexity(p_lstm)
            return 1.0, alone, alone
        return mixing.best_weight_on_grid(p_lstm, self.ngram_p)


def best_weight(lstm: LstmWeights, ngram: KneserNey, contexts, targets) -> float:
    """The LSTM's share in the mix that minimises validation perplexity (0.5 with no word to score)."""
    validation = Validation.build(contexts, targets, lstm.vocab_size, ngram.vocab_size, ngram)
    return validation.best_mix(lstm)[0] if validation is not None else 0.5


class EpochTracker:
    """The stopping rule, epoch by epoch: the best epoch is the one with the lowest validation perplexity of
    the mix (the training loss without a validation part), and training stops after `patience` epochs in
    which neither that nor the LSTM's own perplexity improved. While the mix leaves a young network out, or
    nearly, its perplexity is the n-gram's whatever the network learns; the LSTM's own still shows progress.
    """

    def __init__(self, patience: int, validation: Validation | None = None):
        self.patience, self.validation = patience, validation
        self.best_score, self.best_epoch, self.epochs_run = math.inf, 0, 0
        self.best_mix_weight = 0.5  # the LSTM's share in the mix at the best epoch (no validation: even)
        self.best_lstm, self.last_progress = math.inf, 0
        self.perplexity: float | None = None  # the last epoch's validation perplexity of the mix
        self.stop = False

    def end_epoch(self, epoch: int, loss: float, lstm: LstmWeights | None) -> bool:
        """Record epoch `epoch` (1-based) with its training loss and its network (None without a validation
        part); True if it is the best so far."""
        mix_weight, alone, self.perplexity = self.best_mix_weight, math.inf, None
        if self.validation is not None:
            mix_weight, self.perplexity, alone = self.validation.best_mix(lstm)
        watched = self.perplexity if self.perplexity is not None else loss
        improved = watched < self.best_score
        self.epochs_run = epoch
        if improved:
            self.best_score, self.best_epoch, self.best_mix_weight = watched, epoch, mix_weight
        if improved or alone < self.best_lstm:
            self.last_progress, self.best_lstm = epoch, min(alone, self.best_lstm)
        elif epoch - self.last_progress >= self.patience:
            self.stop = True
        return improved
