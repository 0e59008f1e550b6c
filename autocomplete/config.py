"""Training hyper-parameters: one dataclass with the defaults in code, saved in every model's meta.json."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from autocomplete.errors import UsageError


@dataclass(frozen=True)
class TrainConfig:
    """The defaults were tuned on the validation part of the Shakespeare benchmark and checked on the bundled
    corpus; every configuration tried is in benchmarks/results/tuning.md."""

    context: int = 2  # words in, the next word out
    embedding_dim: int = 64
    units: int = 128  # LSTM units
    # The relu layer before the softmax: the softmax's (hidden, V) matrix is most of the training time and of
    # a suggestion's time; 64 scored as well as 128 on validation, trains ~20% faster and halves that cost.
    hidden: int = 64
    # After the LSTM and after the relu layer. With the softmax tied to the embedding (itself a regulariser),
    # 0.2 beat 0.3 on the held-out part of the Shakespeare train split in perplexity and KSR@3 for each of
    # seeds 0-2, and in top-3 for two of them; means 0.756 -> 0.752 x the trigram's perplexity, KSR@3
    # +1.30 -> +1.38 points, top-3 +1.64 -> +1.72 (benchmarks/results/tuning.md, session 6, with 0.1).
    dropout: float = 0.2
    # The softmax reuses the embedding matrix (needs hidden == embedding_dim): fewer parameters, and a word's
    # input and output vectors learn from each other. On the held-out part of the Shakespeare train split,
    # with the same stopping rule and refit: perplexity 0.769 -> 0.759 x the trigram's, top-3 +1.52 -> +1.65
    # points, KSR@3 +1.16 -> +1.23 (benchmarks/results/tuning.md, session 5).
    tie_embeddings: bool = True
    # The most; early stopping ends sooner. It watches the validation perplexity of the mix that ships
    # (train.Validation), which kept improving 3-4 epochs after the LSTM's own validation loss had turned:
    # on the Shakespeare train split it is best after epoch 9. The bundled corpus's is best at 18 of 19
    # (35 s); a cap of 8 once cost it KSR@3 +1.49 -> +0.91 points (benchmarks/results/tuning.md).
    epochs: int = 20
    # Epochs in which neither the mix's validation perplexity nor the LSTM's improved. On the Shakespeare
    # train split 1 and 2 kept the same epoch (10, with dropout 0.3), and 1 leaves the time for one more refit
    # epoch.
    patience: int = 1
    batch_size: int = 512  # with learning rate 3e-3: as good as 256 at 2e-3, fewer, larger steps
    learning_rate: float = 3e-3
    # The tail that chooses the epoch and the mixing weight; the refit then trains on it too. 0.05 rather than
    # 0.1 gives the first training 5% more text: on the held-out part of the Shakespeare train split, three
    # seeds each, perplexity 0.785 -> 0.767 x the trigram's, KSR@3 +1.02 -> +1.20 points; on the bundled
    # corpus's, level (benchmarks/results/tuning.md, session 4).
    val_split: float = 0.05
    max_vocab: int = 20000
    # 1: every word can be suggested. 2 scored better over the words it keeps, but words seen once became
    # unknown, so fewer keystrokes were saved.
    min_count: int = 1
    ngram: bool = True  # mix the LSTM with a Kneser-Ney n-gram, weight chosen on the validation part
    # With the n-gram on, the LSTM's softmax covers only the words seen at least this often (plus one "other
    # word" output that the rarer words share by their n-gram probabilities): every word can still be
    # suggested, and the network stops spending itself on words it sees once or twice. On the held-out part
    # of the Shakespeare train split (benchmarks/results/holdout.jsonl) 3 and 5 scored best, 1 worst.
    lstm_min_count: int = 3
    # After validation has chosen the epoch and the mixing weight, this many more epochs on all the text at a
    # third of the learning rate (0: none): the validation tail is the only place some words occur. On the
    # held-out part of the Shakespeare train split, seeds 0 and 1: 2 epochs gave perplexity 0.759/0.757 x the
    # trigram's and KSR@3 +1.23/+1.32 points, 3 epochs 0.756/0.755 x and +1.27/+1.33. 3 keeps the default
    # training of the benchmark under 5 minutes (benchmarks/results/tuning.md, sessions 3 and 5).
    refit_epochs: int = 3
    seed: int = 0

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def validated(self) -> TrainConfig:
        """Self, or a UsageError naming the first option out of range."""
        at_least_one = ("context", "embedding_dim", "units", "hidden", "epochs", "batch_size", "max_vocab",
                        "min_count", "lstm_min_count")  # fmt: skip
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
        for name in ("patience", "refit_epochs"):
            if getattr(self, name) < 0:
                raise UsageError(f"--{name.replace('_', '-')} must be 0 or more (got {getattr(self, name)})")
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
