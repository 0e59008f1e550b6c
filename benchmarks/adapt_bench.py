"""Adaptation on the test splits (issue 15): the default, its parts and the strongest n-grams, three corpora,
three seeds, unadapted and adapted side by side. Reads the models benchmarks/adapt_models.py trained.

    python benchmarks/adapt_models.py --work WORK       # the trainings (resumable; ~1-2 h on 2 cores)
    python benchmarks/adapt_bench.py --work WORK --corpus C   # this, per corpus: WORK/eval-C.json
    python benchmarks/adapt_report.py --work WORK       # benchmarks/results/adapt_bench.md (and .json)

Per corpus (its standard test split, ../shared/corpora/README.md), with the figures of `autocomplete
evaluate` (unadapted) and `autocomplete evaluate --adapt` (adapted: the cache over the words typed so far,
the memory empty and learning each sentence as it ends; autocomplete/evaluate_adapt.py):
- default, LSTM alone (the default's network without its n-gram), tiny, ctx3, ctx5: each seed's model;
- MKN alone: the default's own modified Kneser-Ney trigram (the same counts for every seed), and adapted
  with the rule `adapt_tune.tune` chose for it on the validation tail of the train part
  (benchmarks/adapt_holdout.py's protocol: the n-gram fitted on the first 95%, the rule chosen on the rest);
- KN d=0.75 and the most frequent follower (benchmarks/baselines.py), fitted on the train part;
- memory: the test split's second half (by lines) typed adapted, with an empty memory against a memory that
  learned its first half through `memory.learn_file` (what `autocomplete learn` does), for the default of
  each seed and for MKN.
Rules (cache window, weights) were chosen on validation parts only: the default's at training
(meta.json's "adaptation"), MKN's by adapt_tune on the train part's tail. The test split is read here once
per change to report, never to choose.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from adapt_models import FILES, SEEDS, VARIANTS, model_name, write_splits  # noqa: E402
from baselines import MostFrequentFollower, kneser_ney  # noqa: E402

from autocomplete import memory, modelfile  # noqa: E402
from autocomplete.adapt import Adaptation, AdaptParams  # noqa: E402
from autocomplete.adapt_tune import target_probs, tune  # noqa: E402
from autocomplete.adapted import params_of  # noqa: E402
from autocomplete.blas import use_one_blas_thread  # noqa: E402
from autocomplete.evaluate import Evaluation, evaluate, read_stream  # noqa: E402
from autocomplete.evaluate_adapt import evaluate_adapted  # noqa: E402
from autocomplete.inference import Predictor  # noqa: E402
from autocomplete.ngram import KneserNey  # noqa: E402
from autocomplete.wordcounts import Lexicon  # noqa: E402

K = 3
VAL_SHARE = 0.05  # the validation tail adapt_tune chooses MKN's rule on, as training does for the default
FIGURES = ("perplexity", "top1", "top3", "top5", "ksr3")


def figures(e: Evaluation) -> dict:
    s = e.scores
    return {"perplexity": s.perplexity, "top1": s.top1, "top3": s.top3, "top5": s.top5, "ksr3": e.ksr.rate,
            "scored": s.words, "words": e.words, "seconds": e.seconds}  # fmt: skip


def both(test: Path, model, params: AdaptParams | None) -> dict:
    """Unadapted and (with params) adapted figures of `model` on `test`."""
    out = {"unadapted": figures(evaluate(test, model, K))}
    if params is not None:
        out["adapted"] = figures(evaluate_adapted(test, model, Adaptation(model.vocab, params), K))
    return out


def with_memory(first: Path, second: Path, model, params: AdaptParams, name: str) -> dict:
    """`second` typed adapted: with an empty memory, and with a memory that learned `first`."""
    plain = figures(evaluate_adapted(second, model, Adaptation(model.vocab, params), K))
    memory.forget_all(name) if memory.memory_dir(name).exists() else None
    memory.learn_file(name, first)
    learned = memory.load(name, Lexicon(model.vocab))
    taught = figures(evaluate_adapted(second, model, Adaptation(model.vocab, params, learned), K))
    return {"without": plain, "with": taught}


def mkn_rule(train: Path, vocab, ngram_order: int = 3) -> AdaptParams:
    """The rule adapt_tune chooses for the n-gram alone on the train part's validation tail."""
    tokens = read_stream(train)
    ids = vocab.encode(tokens)
    cut = int(len(ids) * (1 - VAL_SHARE))
    base = Predictor(vocab, ngram_order - 1, None, KneserNey.fit(ids[:cut], len(vocab), ngram_order, None))
    return tune(tokens[cut:], target_probs(base.batch_probs, ids, cut, ngram_order - 1), vocab).params


def halves(test: Path) -> tuple[Path, Path]:
    lines = test.read_bytes().splitlines(keepends=True)
    paths = test.with_suffix(".a.txt"), test.with_suffix(".b.txt")
    for path, part in zip(paths, (lines[: len(lines) // 2], lines[len(lines) // 2 :]), strict=True):
        path.write_bytes(b"".join(part))
    return paths


def load(work: Path, name: str):
    folder = work / "home" / "models" / name
    meta, _ = modelfile.read_meta(folder)
    model = modelfile.load(folder, meta)
    return meta, model


def run_corpus(work: Path, corpus: str, train: Path, test: Path, seeds) -> dict:
    started = time.perf_counter()
    first, second = halves(test)
    rows: dict[str, list] = {}
    memory_rows: dict[str, list] = {}
    mkn_done = False
    for seed in seeds:
        meta, default = load(work, model_name(corpus, "default", seed))
        params = params_of(meta)
        rows.setdefault("default", []).append(both(test, default, params))
        lstm = Predictor(default.vocab, default.context_size, default.lstm, None)
        rows.setdefault("LSTM alone", []).append(both(test, lstm, params))
        memory_rows.setdefault("default", []).append(with_memory(first, second, default, params, "bench"))
        if not mkn_done:
            mkn = Predictor(default.vocab, default.context_size, None, default.ngram, cache_size=4096)
            mkn_params = mkn_rule(train, default.vocab)
            rows["MKN alone"] = [both(test, mkn, mkn_params)]
            memory_rows["MKN"] = [with_memory(first, second, mkn, mkn_params, "bench")]
            ids = default.vocab.encode(read_stream(train))
            rows["KN d=0.75"] = [both(test, kneser_ney(default.vocab, ids), None)]
            mff = both(test, MostFrequentFollower.fit(default.vocab, ids), None)
            mff["unadapted"]["perplexity"] = None  # its scores rank, they are not probabilities
            rows["most frequent follower"] = [mff]
            mkn_done = True
        for variant in (v for v in VARIANTS if v != "default"):
            if (work / "home" / "models" / model_name(corpus, variant, seed)).exists():
                v_meta, model = load(work, model_name(corpus, variant, seed))
                rows.setdefault(variant, []).append(both(test, model, params_of(v_meta)))
        print(f"{corpus} seed {seed}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return {"corpus": corpus, "rows": rows, "memory": memory_rows, "mkn_rule": mkn_params.to_json(),
            "test_words": rows["default"][0]["unadapted"]["words"],
            "seconds": time.perf_counter() - started}  # fmt: skip


# --- the command ------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--corpus", choices=list(FILES), required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    args = parser.parse_args()
    use_one_blas_thread()
    started = time.strftime("%Y-%m-%d %H:%M %Z")
    paths = write_splits(args.work)
    with tempfile.TemporaryDirectory() as home:
        os.environ["AUTOCOMPLETE_HOME"] = home  # the memory experiment's memory; the models are read by path
        result = run_corpus(args.work, args.corpus, *paths[args.corpus], args.seeds)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    result |= {"date": started, "commit": commit.stdout.strip(), "command": " ".join(["python", *sys.argv]),
               "machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}",
               "load": os.getloadavg()[0]}  # fmt: skip
    out = args.work / f"eval-{args.corpus}.json"
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
