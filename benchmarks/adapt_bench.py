"""Adaptation on the test splits (issue 15): the default, its parts and the strongest n-grams, three corpora,
three seeds, unadapted and adapted side by side. Reads the models benchmarks/adapt_models.py trained.

    python benchmarks/adapt_models.py --work WORK       # the trainings (resumable; ~1-2 h on 2 cores)
    python benchmarks/adapt_bench.py --work WORK        # this: each trained model not yet measured, and
                                                        # each corpus's n-grams -> WORK/eval/*.json
    python benchmarks/adapt_report.py --work WORK --trained-at COMMIT   # results/adapt_bench.md, .json

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

from adapt_holdout import ngram_tuning  # noqa: E402
from adapt_models import FILES, SEEDS, VARIANTS, model_name, write_splits  # noqa: E402
from baselines import MostFrequentFollower, kneser_ney  # noqa: E402

from autocomplete import memory, modelfile  # noqa: E402
from autocomplete.adapt import Adaptation, AdaptParams  # noqa: E402
from autocomplete.adapted import params_of  # noqa: E402
from autocomplete.blas import use_one_blas_thread  # noqa: E402
from autocomplete.evaluate import Evaluation, evaluate, read_stream  # noqa: E402
from autocomplete.evaluate_adapt import evaluate_adapted  # noqa: E402
from autocomplete.inference import Predictor  # noqa: E402
from autocomplete.wordcounts import Lexicon  # noqa: E402

K = 3
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


def mkn_rule(train: Path, vocab) -> AdaptParams:
    """The rule adapt_tune chooses for the n-gram alone on the train part's validation tail."""
    return ngram_tuning(read_stream(train), vocab)[2].params


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


def eval_model(work: Path, corpus: str, variant: str, seed: int) -> dict:
    """One trained model's rows: the default also as its LSTM alone and in the memory experiment."""
    train, test = write_splits(work)[corpus]
    meta, model = load(work, model_name(corpus, variant, seed))
    params = params_of(meta)
    if variant != "default":
        return {"rows": {variant: both(test, model, params)}, "memory": {}}
    lstm = Predictor(model.vocab, model.context_size, model.lstm, None)
    rows = {"default": both(test, model, params), "LSTM alone": both(test, lstm, params)}
    return {"rows": rows, "memory": {"default": with_memory(*halves(test), model, params, "bench")}}


def eval_baselines(work: Path, corpus: str) -> dict:
    """The n-grams on the default's vocabulary (seed 0's: the vocabulary and counts are the same for every
    seed): its modified Kneser-Ney alone and adapted, KN d=0.75, the most frequent follower."""
    train, test = write_splits(work)[corpus]
    _, default = load(work, model_name(corpus, "default", SEEDS[0]))
    mkn = Predictor(default.vocab, default.context_size, None, default.ngram, cache_size=4096)
    rule = mkn_rule(train, default.vocab)
    ids = default.vocab.encode(read_stream(train))
    mff = both(test, MostFrequentFollower.fit(default.vocab, ids), None)
    mff["unadapted"]["perplexity"] = None  # its scores rank, they are not probabilities
    rows = {"MKN alone": both(test, mkn, rule), "KN d=0.75": both(test, kneser_ney(default.vocab, ids), None),
            "most frequent follower": mff}  # fmt: skip
    return {"rows": rows, "memory": {"MKN": with_memory(*halves(test), mkn, rule, "bench")},
            "mkn_rule": rule.to_json()}  # fmt: skip


def pending(work: Path) -> list[tuple[str, str, int | None]]:
    """(corpus, variant, seed) of every trained model not yet evaluated; variant "baselines" (seed None)
    once the corpus's seed-0 default exists."""
    todo = []
    for corpus in FILES:
        if (work / "home" / "models" / model_name(corpus, "default", SEEDS[0])).exists():
            todo.append((corpus, "baselines", None))
        todo += [(corpus, v, s) for v in VARIANTS for s in SEEDS
                 if (work / "home" / "models" / model_name(corpus, v, s)).exists()]  # fmt: skip
    return [t for t in todo if not out_path(work, *t).exists()]


def out_path(work: Path, corpus: str, variant: str, seed: int | None) -> Path:
    name = f"{corpus}-baselines" if seed is None else model_name(corpus, variant, seed)
    return work / "eval" / f"{name}.json"


# --- the command ------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--corpus", choices=list(FILES), action="append", help="only these corpora")
    args = parser.parse_args()
    use_one_blas_thread()
    (args.work / "eval").mkdir(exist_ok=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    for corpus, variant, seed in pending(args.work):
        if args.corpus and corpus not in args.corpus:
            continue
        started, date = time.perf_counter(), time.strftime("%Y-%m-%d %H:%M %Z")
        with tempfile.TemporaryDirectory() as home:
            os.environ["AUTOCOMPLETE_HOME"] = home  # the memory experiment's; the models are read by path
            if seed is None:
                result = eval_baselines(args.work, corpus)
            else:
                result = eval_model(args.work, corpus, variant, seed)
        result |= {"corpus": corpus, "variant": variant, "seed": seed, "date": date,
                   "commit": commit.stdout.strip(), "command": " ".join(["python", *sys.argv]),
                   "machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}",
                   "load": os.getloadavg()[0], "seconds": time.perf_counter() - started}  # fmt: skip
        out = out_path(args.work, corpus, variant, seed)
        out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {out} ({result['seconds']:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
