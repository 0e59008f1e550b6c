"""The test split's conditions without reading the test split: a held-out part of the Shakespeare train split.

The validation part that `train` scores is the tail of the text it learns from, so it cannot show what
happens to words that occur only in that tail, or to the model trained again on all of it. This script
splits the standard train part (the first 36000 lines of tinyshakespeare.txt) once more:

    lines 1-32400       trained on by `autocomplete train` (which holds out its own validation tail)
    lines 32401-36000   evaluated by `autocomplete evaluate`'s code, as the benchmark does on the test split

and scores the Kneser-Ney trigram (d=0.75, fitted on lines 1-32400) on the same lines as the yardstick.

    python benchmarks/holdout.py --label default                       # the current defaults
    python benchmarks/holdout.py --label no-refit -- --refit-epochs 0  # options after -- go to `train`
    python benchmarks/holdout.py --label lstm-all-words -- --lstm-min-count 1

Each run appends one JSON line to benchmarks/results/holdout.jsonl and prints the ratios to the trigram.
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

CORPUS = (ROOT.parent / "shared" / "corpora" / "tinyshakespeare.txt").resolve()
TRAIN_LINES, HELD_OUT_FROM = 36000, 32400
LOG = HERE / "results" / "holdout.jsonl"


def figures(evaluation) -> dict:
    s = evaluation.scores
    return {"perplexity": s.perplexity, "top1": s.top1, "top3": s.top3, "top5": s.top5,
            "ksr3": evaluation.ksr.rate, "words": s.words}  # fmt: skip


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--label", required=True)
    parser.add_argument("train_options", nargs="*", help="options for `autocomplete train`, after --")
    args = parser.parse_args()
    with CORPUS.open(encoding="utf-8") as f:
        lines = [line for _, line in zip(range(TRAIN_LINES), f, strict=False)]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        train_path, held_out = work / "train.txt", work / "held-out.txt"
        train_path.write_text("".join(lines[:HELD_OUT_FROM]), encoding="utf-8")
        held_out.write_text("".join(lines[HELD_OUT_FROM:]), encoding="utf-8")
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
        "label": args.label, "options": args.train_options, "mix": mix, "kn": kn,
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


if __name__ == "__main__":
    main()
