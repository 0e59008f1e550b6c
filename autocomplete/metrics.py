"""Next-word scores over a token-id stream: perplexity and top-k accuracy, as `evaluate` and training
report them.

Only real words are scored as targets: a target that is the unknown marker is counted (its share is
reported) but not scored, and sentence boundaries are neither. Top-k ranks a word among real words,
as the user sees them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from autocomplete.vocab import FIRST_WORD_ID, UNKNOWN_ID

TOP_KS = (1, 3, 5)


@dataclass(frozen=True)
class NextWordScores:
    words: int  # targets scored (real words in the vocabulary)
    unknown: int  # targets that were out of the vocabulary
    perplexity: float
    top1: float
    top3: float
    top5: float

    @property
    def unknown_share(self) -> float:
        return self.unknown / max(self.words + self.unknown, 1)

    def to_json(self) -> dict:
        """Valid JSON always: with no word scored there is no figure, so null and a note, never NaN."""
        figures = {"perplexity": self.perplexity, "top1": self.top1, "top3": self.top3, "top5": self.top5}
        scored = self.words > 0
        figures = {k: v if scored and math.isfinite(v) else None for k, v in figures.items()}
        note = {} if scored else {"note": "no word was scored"}
        return {"words": self.words, "unknown": self.unknown, "unknown_share": self.unknown_share, **figures,
                **note}  # fmt: skip


def tie_rank(probs: np.ndarray, p: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The rank (0 = best) of each target y (n,) with probability p (n,) among probs (n, V), ties broken by
    id as suggest() lists them: a word tied with others is ahead only of those with larger ids."""
    ahead = probs > p[:, None]
    tied = (probs == p[:, None]) & (np.arange(probs.shape[1]) < y[:, None])
    return (ahead | tied).sum(axis=1)


# Windows per batch_probs call in the passes over many windows: each (batch, V) float64 temporary stays ~10 MB
# at 20k words (256 and 512 made training's peak memory), and no slower (benchmarks/results/mixing_memory.md).
PROBS_BATCH = 64


def score(batch_probs, contexts: np.ndarray, targets: np.ndarray, batch: int = PROBS_BATCH) -> NextWordScores:
    """Score `batch_probs(contexts) -> (n, V)` on the windows (contexts (n, N), targets (n,))."""
    unknown = int((targets == UNKNOWN_ID).sum())
    keep = targets >= FIRST_WORD_ID
    contexts, targets = contexts[keep], targets[keep]
    log_sum, hits = 0.0, np.zeros(len(TOP_KS), np.int64)
    for start in range(0, len(targets), batch):
        probs = np.array(batch_probs(contexts[start : start + batch]), dtype=np.float64)
        y = targets[start : start + batch]
        p = probs[np.arange(len(y)), y]
        log_sum += float(np.log(np.maximum(p, 1e-300)).sum())
        probs[:, :FIRST_WORD_ID] = 0.0  # markers are never suggested
        rank = tie_rank(probs, p, y)
        hits += [(rank < k).sum() for k in TOP_KS]
    n = len(targets)
    top = hits / max(n, 1)
    perplexity = float(np.exp(-log_sum / n)) if n else float("nan")
    return NextWordScores(n, unknown, perplexity, *map(float, top))
