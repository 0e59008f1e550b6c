"""The test split's conditions without reading the test split: a held-out part of a corpus's train split.

The validation part that `train` scores is the tail of the text it learns from, so it cannot show what
happens to words that occur only in that tail, or to the model trained again on all of it. This script
splits a standard train part (corpora/README.md) once more, e.g. Shakespeare's first 36000 lines:

    lines 1-32400       trained on by `autocomplete train` (which holds out its own validation tail)
    lines 32401-36000   evaluated by `autocomplete evaluate`'s code, as the benchmark does on the test split

(the last 10% of the train part's lines, for every corpus) and scores the Kneser-Ney trigram (d=0.75, fitted
on the first 90%) on the same lines as the yardstick.

    python benchmarks/holdout.py --label default                       # the current defaults
    python benchmarks/holdout.py --label no-refit -- --refit-epochs 0  # options after -- go to `train`
    python benchmarks/holdout.py --label default --corpus sherlock -- --seed 1
    python benchmarks/holdout.py --report default other               # labels side by side

Each run appends one JSON line to benchmarks/results/holdout.jsonl (with the train's seconds and words, so
words·epochs per second too) and prints the ratios to the trigram; --report prints, per label and corpus,
the mean over the runs (seeds) and their spread, as markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from autocomplete import store  # noqa: E402
from autocomplete.config import TrainConfig  # noqa: E402
from autocomplete.dataset import prepare  # noqa: E402
from autocomplete.evaluate import evaluate  # noqa: E402
from autocomplete.inference import Predictor  # noqa: E402
from autocomplete.ngram import KneserNey  # noqa: E402

CORPORA = Path(os.environ.get("CORPORA", ROOT.parent / "shared" / "corpora")).resolve()
LOG = HERE / "results" / "holdout.jsonl"
HELD_OUT = 0.1  # the train part's last tenth of lines is held out


def train_part(corpus: str) -> list[str]:
    """The corpus's standard train part, as lines ending in "\\n", as head and tail count them."""
    name, part = {
        "shakespeare": ("tinyshakespeare.txt", slice(None, 36000)),
        "sherlock": ("sherlock.txt", slice(None, 4221)),
        "git-log": ("git-log.txt", slice(-40000, -4000)),  # the quality split; 3 bytes are not UTF-8
    }[corpus]
    text = (CORPORA / name).read_bytes().decode("utf-8", errors="replace")
    return [line + "\n" for line in text.removesuffix("\n").split("\n")][part]


def figures(evaluation) -> dict:
    s = evaluation.scores
    return {"perplexity": s.perplexity, "top1": s.top1, "top3": s.top3, "top5": s.top5,
            "ksr3": evaluation.ksr.rate, "words": s.words}  # fmt: skip


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--label")
    parser.add_argument("--corpus", choices=("shakespeare", "sherlock", "git-log"), default="shakespeare")
    parser.add_argument("--report", nargs="+", metavar="LABEL", help="print these labels' figures")
    parser.add_argument("train_options", nargs="*", help="options for `autocomplete train`, after --")
    args = parser.parse_args()
    if args.report:
        print(report(args.report))
        return
    if not args.label:
        parser.error("--label is required for a run")
    lines = train_part(args.corpus)
    cut = round(len(lines) * (1 - HELD_OUT))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        train_path, held_out = work / "train.txt", work / "held-out.txt"
        train_path.write_text("".join(lines[:cut]), encoding="utf-8")
        held_out.write_text("".join(lines[cut:]), encoding="utf-8")
        os.environ["AUTOCOMPLETE_HOME"] = str(work / "home")
        command = [sys.executable, "-m", "autocomplete", "train", str(train_path), "--name", "holdout"]
        started = time.monotonic()
        subprocess.run([*command, *args.train_options], check=True, stdout=subprocess.DEVNULL)
        seconds = time.monotonic() - started
        info, predictor = store.load("holdout")
        corpus = prepare([train_path], TrainConfig())
        trigram = Predictor(corpus.vocab, 2, None, KneserNey.fit(corpus.ids, len(corpus.vocab), 3, 0.75))
        mix, kn = figures(evaluate(held_out, predictor)), figures(evaluate(held_out, trigram))
    record = {
        "label": args.label, "corpus": args.corpus, "options": args.train_options, "mix": mix, "kn": kn,
        "train_words": info.meta["words"],
        "lstm_weight": info.meta["lstm_weight"], "best_epoch": info.meta["best_epoch"],
        "epochs_run": info.meta["epochs_run"], "refit_epochs": info.meta.get("refit_epochs", 0),
        "train_seconds": round(seconds, 1), "load": os.getloadavg()[0],
        "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                 text=True).stdout.strip(),
    }  # fmt: skip
    with LOG.open("a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
    print(
        f"{args.label}: perplexity {mix['perplexity']:.1f} = "
        f"{mix['perplexity'] / kn['perplexity']:.3f} x the trigram's; "
        f"top-3 {100 * (mix['top3'] - kn['top3']):+.2f} points; "
        f"KSR@3 {100 * (mix['ksr3'] - kn['ksr3']):+.2f} points; weight {info.meta['lstm_weight']:.2f}; "
        f"{seconds:.0f} s"
    )


def report(labels: list[str]) -> str:
    """Per label and corpus: the runs, and the mean (min-max) of the held-out figures, the training's
    seconds and its words·epochs per second (epochs: the first training's and the refit's)."""
    records = [json.loads(line) for line in LOG.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = ["| label | corpus | runs | top-3 % | KSR@3 % | perplexity | train s | words·epochs/s | commit |",
            "| --- | --- | ---: | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for label in labels:
        for corpus in ("shakespeare", "sherlock", "git-log"):
            runs = [r for r in records if r["label"] == label and r.get("corpus", "shakespeare") == corpus]
            if not runs:
                continue
            speed = [r["train_words"] * (r["epochs_run"] + r["refit_epochs"]) / r["train_seconds"]
                     for r in runs if "train_words" in r]  # fmt: skip
            cells = [
                _spread([100 * r["mix"]["top3"] for r in runs], 2),
                _spread([100 * r["mix"]["ksr3"] for r in runs], 2),
                _spread([r["mix"]["perplexity"] for r in runs], 1),
                _spread([r["train_seconds"] for r in runs], 0),
                _spread(speed, 0) if speed else "-",
            ]
            commits = ", ".join(sorted({r["commit"] for r in runs}))
            rows.append(f"| {label} | {corpus} | {len(runs)} | {' | '.join(cells)} | {commits} |")
    return "\n".join(rows)


def _spread(values: list[float], digits: int) -> str:
    mean = sum(values) / len(values)
    if len(values) == 1:
        return f"{mean:,.{digits}f}"
    return f"{mean:,.{digits}f} ({min(values):,.{digits}f}-{max(values):,.{digits}f})"


if __name__ == "__main__":
    main()
