"""Tuning the default training configuration on the validation part of the Shakespeare train split.

Never reads the test lines: it trains on the first 36000 lines (the standard train split) exactly as
`autocomplete train` does, and scores the validation tail (the last --val-split of those lines' windows) with
the predictor that would ship, its n-gram fitted on the training part only, and with the Kneser-Ney trigram
alone (also fitted on the training part) as the yardstick.

    python benchmarks/tune.py run --label base                      # the current defaults
    python benchmarks/tune.py run --label h64 --set hidden=64 --set batch_size=512
    python benchmarks/tune.py report                                 # benchmarks/results/tuning.md

Each `run` trains in a subprocess of its own (so its peak memory is its own) and appends one JSON line to
benchmarks/results/tuning.jsonl: the configuration, validation perplexity, top-1/3/5 and KSR@3 of the mix, of
the LSTM alone and of the trigram alone, the mixing weight, epochs, per-epoch validation perplexity (the
LSTM's validation loss before session 5) and seconds.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from autocomplete import metrics
from autocomplete.config import TrainConfig
from autocomplete.evaluate import keystroke_savings, read_stream
from autocomplete.inference import LstmWeights, Predictor
from autocomplete.ngram import KneserNey
from autocomplete.vocab import FIRST_WORD_ID

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
LOG = RESULTS / "tuning.jsonl"
CORPUS = (HERE.parent.parent / "shared" / "corpora" / "tinyshakespeare.txt").resolve()
TRAIN_LINES = 36000
NOTEBOOK = HERE.parent / "corpora" / "notebook.txt"
NOTES = "<!-- notes: written by hand, kept by `tune.py report` -->"


def train_split(folder: Path, corpus: str = "shakespeare") -> Path:
    """The benchmark's train part, written outside the repository: Shakespeare's standard split
    (`head -n 36000`), or the first 90% of the lines of the bundled corpus (as benchmarks/run.py)."""
    path = folder / f"{corpus}-train.txt"
    if not path.exists():
        if corpus == "shakespeare":
            with CORPUS.open(encoding="utf-8") as f:
                lines = [line for _, line in zip(range(TRAIN_LINES), f, strict=False)]
        else:
            lines = NOTEBOOK.read_text(encoding="utf-8").splitlines(keepends=True)
            lines = lines[: round(len(lines) * 0.9)]
        path.write_text("".join(lines), encoding="utf-8")
    return path


class EpochLog:
    """A training Reporter that keeps each epoch's loss, validation perplexity and the time it ended. (Rows
    before session 5 logged the LSTM's validation loss as "val_loss"; early stopping watched that then.)"""

    def __init__(self):
        self.epochs, self.started = [], time.monotonic()

    def phase(self, text: str) -> None: ...
    def start(self, epochs: int, steps: int, words: int) -> None:
        self.started = time.monotonic()

    def batch(self, epoch: int, step: int, loss: float) -> None: ...
    def epoch(self, epoch: int, loss: float, val_perplexity: float | None, improved: bool) -> None:
        val = round(val_perplexity, 2) if val_perplexity is not None else None
        self.epochs.append({"epoch": epoch, "loss": round(loss, 4), "val_perplexity": val,
                            "seconds": round(time.monotonic() - self.started, 1)})  # fmt: skip


def validation_figures(predictor, tokens, contexts, targets, seen, n_train: int, n: int) -> dict:
    """Perplexity and top-k over the validation targets the training part contains (as on the test split,
    where words missing from the training text are skipped); KSR over every validation word."""
    keep = seen[targets[n_train:]]
    scores = metrics.score(predictor.batch_probs, contexts[n_train:][keep], targets[n_train:][keep])
    ksr = keystroke_savings(tokens, predictor, 3, start=n_train + n)
    return {"perplexity": scores.perplexity, "top1": scores.top1, "top3": scores.top3, "top5": scores.top5,
            "ksr3": ksr.rate, "words": scores.words}  # fmt: skip


def best_weight_on_seen(lstm, ngram, contexts, targets) -> float:
    """The mixing weight train() would choose if validation targets the n-gram never saw were left out."""
    from autocomplete.validation import best_weight

    return best_weight(lstm, ngram, contexts, targets)


def run_one(label: str, overrides: dict, folder: Path, corpus_name: str = "shakespeare") -> dict:
    """Train with the overrides, then score the validation part (run in a subprocess of its own)."""
    from autocomplete.dataset import prepare, validation_size, windows
    from autocomplete.train import train

    config = dataclasses.replace(TrainConfig(), **overrides)
    corpus_path = train_split(folder, corpus_name)
    os.environ["AUTOCOMPLETE_HOME"] = str(folder / "home")
    log = EpochLog()
    started = time.monotonic()
    result = train([corpus_path], config, name="tune", force=True, reporter=log)
    seconds = time.monotonic() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    corpus = prepare([corpus_path], config)
    tokens = read_stream(corpus_path)
    assert len(tokens) == len(corpus.ids)
    n = config.context
    contexts, targets = windows(corpus.ids, n)
    n_train = len(targets) - validation_size(len(targets), config.val_split)
    with np.load(result.path / "weights.npz") as arrays:
        lstm = LstmWeights.from_arrays(arrays)
    if os.environ.get("TUNE_KEEP_WEIGHTS"):  # to study a configuration further, outside this script
        keep = Path(os.environ["TUNE_KEEP_WEIGHTS"]) / f"{label}.npz"
        keep.parent.mkdir(parents=True, exist_ok=True)
        np.savez(keep, **lstm.to_arrays())
    held_out = KneserNey.fit(corpus.ids[: n_train + n], len(corpus.vocab), n + 1, 0.75)
    vocab = corpus.vocab
    seen = np.zeros(len(vocab), bool)
    seen[corpus.ids[: n_train + n]] = True
    val_x, val_y = contexts[n_train:], targets[n_train:]
    w_seen = best_weight_on_seen(lstm, held_out, val_x[seen[val_y]], val_y[seen[val_y]])
    args = (tokens, contexts, targets, seen, n_train, n)
    figures = {
        "mix": validation_figures(Predictor(vocab, n, lstm, held_out, result.lstm_weight), *args),
        "lstm": validation_figures(Predictor(vocab, n, lstm), *args),
        "kn": validation_figures(Predictor(vocab, n, None, held_out), *args),
        "weight_on_seen": w_seen,
        "mix_at_weight_on_seen": validation_figures(Predictor(vocab, n, lstm, held_out, w_seen), *args),
        "unseen_share": float(1 - seen[val_y[val_y >= FIRST_WORD_ID]].mean()),
    }
    return {
        "label": label, "corpus": corpus_name, "overrides": overrides, "config": config.to_json(),
        "vocab": len(vocab),
        "parameters": result.parameters, "lstm_weight": result.lstm_weight, "epochs_run": result.epochs_run,
        "best_epoch": result.best_epoch, "epochs": log.epochs, "train_seconds": round(seconds, 1),
        "peak_mb": round(peak_mb), "load": os.getloadavg()[0], **figures,
    }  # fmt: skip


def parse_value(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def _row(i: int, r: dict) -> str:
    mix, kn, lstm = r["mix"], r["kn"], r["lstm"]
    changes = ", ".join(f"{k}={v}" for k, v in r["overrides"].items()) or "—"
    per_epoch = r["epochs"][-1]["seconds"] / max(len(r["epochs"]), 1) if r["epochs"] else float("nan")
    return (
        f"| {i} | {r['label']} | {changes} | {r['vocab']:,} | {r['epochs_run']} ({r['best_epoch']}) "
        f"| {mix['perplexity']:.1f} | {mix['perplexity'] / kn['perplexity']:.3f} | {mix['top1']:.2%} "
        f"| {mix['top3']:.2%} | {mix['top5']:.2%} | {mix['ksr3']:.2%} "
        f"| {100 * (mix['top3'] - kn['top3']):+.2f} "
        f"| {100 * (mix['ksr3'] - kn['ksr3']):+.2f} | {lstm['perplexity']:.1f} | {r['lstm_weight']:.2f} "
        f"| {r['train_seconds']:.0f} | {per_epoch:.0f} | {r['peak_mb']:,} | {r['load']:.1f} |"
    )


HEADER = [
    "| # | label | changes from the defaults of the time | vocab | epochs (best) | mix ppl | ppl / KN "
    "| mix top-1 | top-3 | top-5 | KSR@3 | top-3 − KN | KSR − KN | LSTM ppl | weight "
    "| time s | s/epoch | peak MB | load after |",
    "|" + "---|" * 20,
]
TITLES = {
    "shakespeare": "Shakespeare: the standard train split (`head -n 36000`), its validation tail",
    "notebook": "The bundled corpus (first 90% of `corpora/notebook.txt`, as in the benchmark), its "
    "validation tail",
}


def report() -> str:
    """tuning.md from tuning.jsonl: one row per configuration tried, in the order tried."""
    rows = [json.loads(line) for line in LOG.read_text().splitlines() if line.strip()]
    numbered = list(enumerate(rows, 1))
    lines = [
        "# Tuning the default configuration (validation part only)",
        "",
        "Every configuration tried, in the order tried. Each was trained by `autocomplete.train.train` on",
        "a benchmark's train part (Shakespeare: the first 36000 lines of `tinyshakespeare.txt`), the",
        "validation part being its `--val-split` tail (0.1: ~18.5k words of Shakespeare); the test lines",
        "were never read. Figures are on that validation part: **mix** is the predictor that would ship",
        "(LSTM mixed with a Kneser-Ney trigram fitted on the training part, weight chosen on validation by",
        "`train`), **LSTM** the network alone, **KN** the trigram alone. Perplexity and top-k over the",
        "validation words that occur in the training part (as on the test split, where words the training",
        "text lacks are skipped); KSR at K=3 (as defined in `autocomplete/evaluate.py`) over every",
        "validation word. The time is the whole `train()` call on a 2-core machine shared with other work",
        "(load average in the last column), so compare times loosely; the final defaults were re-timed side",
        "by side in `shakespeare.md`.",
        "",
        "Produced by `python benchmarks/tune.py run --label LABEL [--corpus notebook] --set NAME=VALUE ...`",
        "for each row, then `python benchmarks/tune.py report`; raw records in `tuning.jsonl`.",
    ]
    for corpus, title in TITLES.items():
        mine = [(i, r) for i, r in numbered if r.get("corpus", "shakespeare") == corpus]
        if mine:
            lines += ["", f"## {title}", "", *HEADER, *(_row(i, r) for i, r in mine)]
    lines += [
        "",
        "## The mixing weight",
        "",
        "The weight `train` chooses minimises validation perplexity over every validation word, including",
        "those the training part never contains (~6% of Shakespeare's): the held-out trigram gives them 0,",
        "which pushes the weight towards the LSTM. The weight that minimises it over the words the training",
        "part contains, and the mix's figures with it (for information; the shipped predictor uses `train`'s",
        "choice):",
        "",
        "| # | label | weight chosen | weight (seen words only) | ppl | top-1 | top-3 | top-5 | KSR@3 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for i, r in numbered:
        alt = r["mix_at_weight_on_seen"]
        figures = " | ".join(f"{alt[key]:.2%}" for key in ("top1", "top3", "top5", "ksr3"))
        lines.append(
            f"| {i} | {r['label']} | {r['lstm_weight']:.2f} | {r['weight_on_seen']:.2f} "
            f"| {alt['perplexity']:.1f} | {figures} |"
        )
    kn_rows = {(r.get("corpus", "shakespeare"), r["vocab"]): r["kn"] for r in rows}
    lines += ["", "The Kneser-Ney trigram alone on the same validation parts:", "",
              "| corpus | vocab | KN ppl | top-1 | top-3 | top-5 | KSR@3 |",
              "|---|---|---|---|---|---|---|"]  # fmt: skip
    for (corpus, vocab), kn in sorted(kn_rows.items()):
        figures = " | ".join(f"{kn[key]:.2%}" for key in ("top1", "top3", "top5", "ksr3"))
        lines.append(f"| {corpus} | {vocab:,} | {kn['perplexity']:.1f} | {figures} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="train one configuration and append its validation figures")
    run.add_argument("--label", required=True)
    run.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a TrainConfig field")
    run.add_argument("--corpus", choices=["shakespeare", "notebook"], default="shakespeare")
    run.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    sub.add_parser("report", help="write results/tuning.md")
    args = parser.parse_args()
    if args.command == "report":
        path = RESULTS / "tuning.md"
        old = path.read_text(encoding="utf-8") if path.exists() else ""
        notes = old[old.index(NOTES) :] if NOTES in old else ""  # hand-written conclusions are kept
        path.write_text(report() + ("\n" + notes if notes else ""), encoding="utf-8")
        print(f"wrote {RESULTS / 'tuning.md'}")
        return
    overrides = {k: parse_value(v) for k, v in (s.split("=", 1) for s in args.set)}
    if args.child:  # the subprocess: train, score, print one JSON line
        folder = Path(os.environ["TUNE_FOLDER"])
        print(json.dumps(run_one(args.label, overrides, folder, args.corpus)))
        return
    with tempfile.TemporaryDirectory(prefix="tune-") as tmp:
        command = [sys.executable, __file__, *sys.argv[1:], "--child"]
        env = {**os.environ, "TUNE_FOLDER": tmp}
        child = subprocess.run(command, capture_output=True, text=True, env=env)
    if child.returncode:
        sys.exit(f"training failed:\n{child.stderr[-3000:]}")
    record = child.stdout.strip().splitlines()[-1]
    RESULTS.mkdir(exist_ok=True)
    with LOG.open("a", encoding="utf-8") as f:
        f.write(record + "\n")
    r = json.loads(record)
    print(f"{r['label']}: mix ppl {r['mix']['perplexity']:.1f} (KN {r['kn']['perplexity']:.1f}, "
          f"ratio {r['mix']['perplexity'] / r['kn']['perplexity']:.3f}), top-3 {r['mix']['top3']:.2%} "
          f"(KN {r['kn']['top3']:.2%}), KSR {r['mix']['ksr3']:.2%} (KN {r['kn']['ksr3']:.2%}), "
          f"{r['epochs_run']} epochs, {r['train_seconds']:.0f} s, {r['peak_mb']} MB")


if __name__ == "__main__":
    main()
