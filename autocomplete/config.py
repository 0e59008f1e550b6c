"""Training hyper-parameters: one dataclass with the defaults in code, saved in every model's meta.json."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from autocomplete.errors import UsageError

STRATEGIES = ("auto", "default", "mirrored", "multiworker")  # --strategy, as devices.py makes them
PRUNE_AUTO = "auto"


@dataclass(frozen=True)
class TrainConfig:
    """The defaults were tuned on the validation part of the Shakespeare benchmark and checked on the bundled
    corpus: the evidence for each comment below, every configuration tried with its figures, is in
    benchmarks/results/tuning.md."""

    context: int = 2  # words in, the next word out (the course's setting, and the benchmark's)
    embedding_dim: int = 64
    units: int = 128  # LSTM units
    hidden: int = 64  # the relu layer before the softmax: as good as 128, and half the softmax's cost
    dropout: float = 0.2  # after the LSTM and the relu layer; tied, the best perplexity and KSR of 0.1-0.3
    tie_embeddings: bool = True  # the softmax reuses the embedding matrix: fewer parameters, better scores
    epochs: int = 20  # the most: early stopping ends sooner, and a lower cap stopped small corpora too early
    patience: int = 1  # 2 kept the same epoch; 1 leaves the time for the refit epochs
    batch_size: int = 512  # with learning rate 3e-3: as good as 256 at 2e-3, in fewer, larger steps
    # The most windows (= words) an epoch trains on: a bigger corpus trains each epoch on a fresh random
    # sample of its windows, so an epoch and its validation come at a bounded interval whatever its size.
    # Above the benchmark corpora (<= 225k training words) and the 4 MB git-log prefix (650k).
    epoch_words: int = 1_000_000
    learning_rate: float = 3e-3
    # Train the first training on a sampled softmax of this many words a step instead of all V (0: the full
    # softmax); the refit, the saved model, prediction and validation are the full softmax's (model.py).
    softmax_samples: int = 0
    val_split: float = 0.05  # a small tail gives the first training more text; 0.1 scored worse
    max_vocab: int = 20000
    min_count: int = 1  # every word can be suggested; 2 saved fewer keystrokes
    ngram: bool = True  # mix the LSTM with a Kneser-Ney n-gram, weight chosen on the validation part
    # With the n-gram: the LSTM's softmax covers the words seen this often, the rarer ones share its "other
    # word" output by their n-gram probabilities; 3 and 5 scored best, 1 worst.
    lstm_min_count: int = 3
    # Epochs on all the text after validation, at a third of the learning rate: the validation tail is the
    # only place some words occur; 3 beat 2 and keeps the benchmark's training under 5 minutes.
    refit_epochs: int = 3
    seed: int = 0
    # Where it trains (devices.py): auto is one device, several local GPUs, or TF_CONFIG's cluster. Replicas
    # each take batch_size windows a step, and the learning rate grows with them (devices.scaled).
    strategy: str = "auto"
    cluster_timeout: float = 120.0  # seconds to wait for every worker of TF_CONFIG before giving up
    # The n-gram's pruning, KenLM's --prune: "auto" (train.py's size rule), "N" (drop the top order's n-grams
    # seen at most N times; "0" keeps all) or one count per order 2..N ("B,T" for the trigram).
    prune: str = PRUNE_AUTO

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def ngram_order(self) -> int:
        """The n-gram's order: the context's words (at most MAX_ORDER - 1 of them) and the next."""
        from autocomplete.ngram import MAX_ORDER  # numpy: not on the CLI's import path

        return min(self.context, MAX_ORDER - 1) + 1

    def prune_counts(self) -> tuple[int, ...] | None:
        """--prune as KneserNey.fit's `prune`: per order 2..ngram_order, the count at or below which an
        n-gram is dropped; None for "auto". A UsageError for a value that is not one of those."""
        text = str(self.prune).strip()
        if text == PRUNE_AUTO:
            return None
        parts = [part.strip() for part in text.split(",")]
        if not all(part.isascii() and part.isdigit() for part in parts):
            raise UsageError(
                f"--prune must be auto, a count of 0 or more, or one count per n-gram order (e.g. 1 or 0,1; "
                f"got {self.prune!r})"
            )
        counts, order = tuple(int(part) for part in parts), self.ngram_order
        if len(counts) == 1:
            return (0,) * (order - 2) + counts
        if len(counts) != order - 1:
            many = "one count" if order == 2 else f"one count or {order - 1} (one per order 2..{order})"
            raise UsageError(
                f"--prune takes {many} for the {order}-gram of --context {self.context} (got {self.prune!r})"
            )
        return counts

    def validated(self) -> TrainConfig:
        """Self, or a UsageError naming the first option out of range."""
        at_least_one = ("context", "embedding_dim", "units", "hidden", "epochs", "batch_size", "epoch_words",
                        "max_vocab", "min_count", "lstm_min_count")  # fmt: skip
        for name in at_least_one:
            if getattr(self, name) < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be at least 1 (got {getattr(self, name)})")
        limits = {"context": 16, "embedding_dim": 4096, "units": 4096, "hidden": 4096, "epochs": 10000,
                  "batch_size": 65536, "max_vocab": 1_000_000, "refit_epochs": 10000}  # fmt: skip
        for name, limit in limits.items():
            if getattr(self, name) > limit:
                option = name.replace("_", "-")
                raise UsageError(f"--{option} must be at most {limit} (got {getattr(self, name)})")
        if self.tie_embeddings and self.hidden != self.embedding_dim:
            raise UsageError(
                f"--tie-embeddings needs --hidden equal to --embedding-dim (got {self.hidden} and "
                f"{self.embedding_dim}); give both the same size, or --no-tie-embeddings"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise UsageError(f"--dropout must be in [0, 1) (got {self.dropout})")
        if not 0.0 < self.val_split <= 0.5:
            raise UsageError(f"--val-split must be in (0, 0.5] (got {self.val_split})")
        if not 0.0 < self.learning_rate <= 1.0:
            raise UsageError(f"--learning-rate must be in (0, 1] (got {self.learning_rate})")
        if self.strategy not in STRATEGIES:
            raise UsageError(f"--strategy must be one of {', '.join(STRATEGIES)} (got {self.strategy!r})")
        if not 0.0 < self.cluster_timeout <= 86400:
            raise UsageError(f"--cluster-timeout must be in (0, 86400] seconds (got {self.cluster_timeout})")
        for name in ("patience", "refit_epochs", "softmax_samples"):
            if getattr(self, name) < 0:
                raise UsageError(f"--{name.replace('_', '-')} must be 0 or more (got {getattr(self, name)})")
        self.prune_counts()
        return self


# The course's classroom sizes, kept to reproduce it: embedding 8 -> LSTM 8 -> Dense 8, no dropout, no n-gram.
PRESETS = {
    "default": TrainConfig(),
    "tiny": TrainConfig(embedding_dim=8, units=8, hidden=8, dropout=0.0, tie_embeddings=False, ngram=False),
}


def preset(name: str, **overrides) -> TrainConfig:
    if name not in PRESETS:
        raise UsageError(f"unknown preset {name!r}: choose one of {', '.join(PRESETS)}")
    given = {k: v for k, v in overrides.items() if v is not None}
    return replace(PRESETS[name], **given).validated()
