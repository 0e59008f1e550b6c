"""The mixing phase's two passes over a validation tail, at a batch size: their time and peak memory.

`train`, after its epochs, scores the validation tail with `metrics.score` (twice: the mix and the LSTM
alone) and tunes the adaptation on `adapt_tune.target_probs`; both call `Predictor.batch_probs`, whose
(batch, V) float64 temporaries grow with the vocabulary. One pass per process, so each peak is its own:

    autocomplete train ../shared/corpora/git-log.txt --name gl --epochs 1 --refit-epochs 1   # ~9 min
    python benchmarks/mixing_memory.py score 256          # metrics.score over the last 46,000 words
    python benchmarks/mixing_memory.py tune 64             # target_probs over the last 20,000
    python benchmarks/mixing_memory.py score 64 --model sh --corpus shakespeare-train.txt

Prints the seconds, the process's peak RSS and how far the pass raised it over the peak before it (the
model loaded), and the result, which must not depend on the batch.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import numpy as np  # noqa: E402

from autocomplete import metrics, store  # noqa: E402
from autocomplete.adapt_tune import target_probs  # noqa: E402
from autocomplete.dataset import windows  # noqa: E402
from autocomplete.text import tokenize  # noqa: E402


def peak_mib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("what", choices=("score", "tune"))
    parser.add_argument("batch", type=int)
    parser.add_argument("--model", default="gl")
    parser.add_argument("--corpus", type=Path, default=HERE.parent.parent / "shared/corpora/git-log.txt")
    args = parser.parse_args()
    _, predictor = store.load(args.model)
    tail = args.corpus.read_text(encoding="utf-8", errors="replace")[-400_000:]
    ids = predictor.vocab.encode(tokenize(tail))[-46_000:].astype(np.int64)
    before = peak_mib()
    started = time.perf_counter()
    if args.what == "score":
        contexts, targets = windows(ids, 2)
        result = metrics.score(predictor.batch_probs, contexts, targets, batch=args.batch)
    else:
        p = target_probs(predictor.batch_probs, ids, len(ids) - 20_000, 2, args.batch)
        result = float(np.log(p).mean())
    seconds, peak = time.perf_counter() - started, peak_mib()
    print(f"{args.what} batch {args.batch}: {seconds:.1f} s, peak RSS {peak} MiB "
          f"({peak - before:+} over the {before} MiB before), result {result}")  # fmt: skip


if __name__ == "__main__":
    main()
