"""Adaptation (issue 15) on VALIDATION parts only: the figures used to choose the cache and memory rule.

For each benchmark corpus, the standard train part only (../shared/corpora/README.md; the test parts are never
read): its last 5% of tokens is the validation tail, the modified Kneser-Ney trigram is fitted on the rest
(the base model: no LSTM training, so this runs in minutes). On the tail, typed in order:
- `adapt_tune.tune` chooses the rule (W, and the weights of the cache and the memory);
- unadapted against adapted (cache + a memory that starts empty and learns each sentence as it ends), and
  the issue's naive cache (unigram + bigram of the last 1000 tokens, fixed weights 0.1/0.1);
- the memory's part: the tail's second half typed with the first half as memory, against the cache alone.
Figures: perplexity over the words the base model gives a probability, top-1/top-3 among real words and the
sources' own words, KSR@3 as defined in autocomplete/evaluate.py (ties at the third place counted in the
word's favour, for every row alike).

    python benchmarks/adapt_holdout.py            # writes benchmarks/results/adapt_holdout.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from autocomplete.adapt import Adaptation, AdaptParams, Rule, mix  # noqa: E402
from autocomplete.adapt_tune import target_probs, tune  # noqa: E402
from autocomplete.blas import use_one_blas_thread  # noqa: E402
from autocomplete.inference import Predictor  # noqa: E402
from autocomplete.ngram import KneserNey  # noqa: E402
from autocomplete.text import BOUNDARY, tokenize_lines  # noqa: E402
from autocomplete.vocab import Vocabulary  # noqa: E402

# ../shared/corpora from the checkout; from a worktree one level deeper, ../../shared/corpora.
CORPORA = next((p / "shared" / "corpora" for p in (ROOT.parent, ROOT.parent.parent)
                if (p / "shared" / "corpora").is_dir()), ROOT.parent / "shared" / "corpora")  # fmt: skip
# The standard train parts (the test parts are never read here).
TRAIN_PARTS = {
    "shakespeare": lambda lines: lines[:36000],
    "sherlock": lambda lines: lines[:4221],
    "git-log": lambda lines: lines[-40000:-4000],
}
FILES = {"shakespeare": "tinyshakespeare.txt", "sherlock": "sherlock.txt", "git-log": "git-log.txt"}
VAL_SHARE = 0.05
NAIVE = AdaptParams(1000, Rule((0.1, 0.1, 0.0), (1e-6, 1e-6, 1.0)), Rule())
NONE = AdaptParams(0, Rule(), Rule())


def train_tokens(corpus: str) -> list[str]:
    with open(CORPORA / FILES[corpus], encoding="utf-8", errors="replace") as f:
        lines = f.read().split("\n")
    return [BOUNDARY, *tokenize_lines(TRAIN_PARTS[corpus](lines))]


def evaluate(model, vocab, tokens, start, params, memory_until=None, k=3) -> dict:
    """Type tokens[start:] (the cache fills from `start`; the memory holds tokens[memory_until:start] if
    given, then learns each sentence as it ends)."""
    adaptation = Adaptation(vocab, params)
    lexicon = adaptation.lexicon
    if memory_until is not None:
        lids = lexicon.intern_pairs((t, t) for t in tokens[memory_until:start])
        adaptation.memory.extend(lids)
    log_sum = scored = hits1 = hits3 = keystrokes = baseline = 0
    sentence = []
    for i in range(start, len(tokens)):
        word = tokens[i]
        context = [BOUNDARY, BOUNDARY, *tokens[max(0, i - 2) : i]][-2:]
        if word != BOUNDARY:
            probs = model.next_word_probs([vocab.id(t) for t in context])
            mixed = mix(probs, adaptation, context)
            vocab_p, local = mixed.vocab_probs, mixed.local
            lid = lexicon.get(word)
            p = float(vocab_p[vocab.index[word]]) if vocab.knows(word) else (local[lid] if lid >= 0 else 0.0)
            if vocab.knows(word) and probs[vocab.index[word]] > 0:
                all_scores = np.concatenate([vocab_p[3:], local[mixed.oov]])
                rank = int((all_scores > p).sum())
                log_sum += np.log(p)
                scored += 1
                hits1 += rank < 1
                hits3 += rank < 3
            cost = len(word) + 1
            baseline += cost
            if p > 0 or vocab.knows(word):
                for j in range(len(word)):
                    if _shown(vocab_p, local, lexicon, vocab, word[:j], p, mixed.oov, k):
                        cost = j + 1
                        break
            keystrokes += cost
        lid = lexicon.intern(word)
        adaptation.cache.push(lid)
        sentence.append(lid)
        if word == BOUNDARY and memory_until is not None:
            adaptation.memory.extend(sentence)
            sentence = []
    return {"perplexity": float(np.exp(-log_sum / scored)), "top1": hits1 / scored, "top3": hits3 / scored,
            "ksr3": 1 - keystrokes / baseline, "scored": scored}  # fmt: skip


def _shown(vocab_p, local, lexicon, vocab, prefix, p, oov_all, k) -> bool:
    """Whether a word of probability p is among the k shown for `prefix` (ties in its favour)."""
    if not prefix:
        return int((vocab_p[3:] > p).sum()) + int((local[oov_all] > p).sum()) < k
    above = int((vocab_p[vocab.ids_with_prefix(prefix)] > p).sum())
    oov = lexicon.oov_with_prefix(prefix)
    return above + int((local[oov] > p).sum()) < k


def ngram_tuning(tokens: list[str], vocab: Vocabulary):
    """(the modified Kneser-Ney trigram of the first 95% of `tokens`, where its validation tail starts,
    adapt_tune's choice on that tail)."""
    ids = vocab.encode(tokens)
    cut = int(len(tokens) * (1 - VAL_SHARE))
    kn = KneserNey.fit(ids[:cut], len(vocab), 3, discount=None)
    model = Predictor(vocab, 2, None, kn, cache_size=4096)
    return model, cut, tune(tokens[cut:], target_probs(model.batch_probs, ids, cut, 2), vocab)


def run_corpus(corpus: str) -> dict:
    started = time.perf_counter()
    tokens = train_tokens(corpus)
    vocab = Vocabulary.build(Counter(tokens), 20000, 1)
    model, cut, tuning = ngram_tuning(tokens, vocab)
    half = cut + (len(tokens) - cut) // 2
    cache_only = AdaptParams(tuning.params.window, tuning.params.cache, Rule())
    rows = {
        "unadapted": evaluate(model, vocab, tokens, cut, NONE),
        "naive cache (W=1000, 0.1/0.1)": evaluate(model, vocab, tokens, cut, NAIVE),
        "cache (chosen)": evaluate(model, vocab, tokens, cut, cache_only),
        "cache + memory learning as it goes (chosen)": evaluate(
            model, vocab, tokens, cut, tuning.params, cut
        ),
        "2nd half: unadapted": evaluate(model, vocab, tokens, half, NONE),
        "2nd half: cache only": evaluate(model, vocab, tokens, half, cache_only),
        "2nd half: cache + memory of the 1st half": evaluate(model, vocab, tokens, half, tuning.params, cut),
    }
    return {
        "corpus": corpus, "tokens": len(tokens), "validation_tokens": len(tokens) - cut, "vocab": len(vocab),
        "params": tuning.params.to_json(), "tune_seconds": tuning.seconds, "tune_words": tuning.words,
        "tune_unadapted": tuning.unadapted, "tune_perplexity": tuning.perplexity,
        "tune_memory": [tuning.memory_baseline, tuning.memory_perplexity],
        "top3_choices": [(p.to_json(), ppl) for p, ppl in tuning.top], "by_window": tuning.by_window,
        "rows": rows, "seconds": time.perf_counter() - started,
    }  # fmt: skip


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def provenance(command: str, started: str, load: float) -> dict:
    """What a results file says about its run: date, commit, command, machine, load at the start and now."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())  # fmt: skip
    return {"date": started, "commit": commit.stdout.strip(), "command": command, "load": load,
            "load_at_end": os.getloadavg()[0],
            "machine": f"{os.cpu_count()} cores (`nproc`), {cpu}"}  # fmt: skip


def provenance_lines(run: dict) -> list[str]:
    return [f"- date: {run['date']}; commit {run['commit']}; command `{run['command']}`",
            f"- machine: {run['machine']}; one BLAS thread; load {run['load']:.2f} at the start, "
            f"{run['load_at_end']:.2f} at the end"]  # fmt: skip


def report(results: list[dict], run: dict) -> str:
    out = [
        "# Adaptation on validation parts (issue 15): the figures used for choosing",
        "",
        "VALIDATION figures only: each corpus's standard train part, its last 5% of tokens typed in",
        "order; the base model is the modified Kneser-Ney trigram fitted on the other 95%. No test split was",
        "read. These figures chose W and the weights (they are not a held-out result).",
        "",
        *provenance_lines(run),
        "",
    ]
    for r in results:
        p = r["params"]
        out += [
            f"## {r['corpus']}: {r['validation_tokens']:,} validation tokens of {r['tokens']:,}, "
            f"vocabulary {r['vocab']:,}",
            "",
            "| rows | perplexity | top-1 | top-3 | KSR@3 |",
            "| --- | --- | --- | --- | --- |",
        ]
        for name, row in r["rows"].items():
            out.append(f"| {name} | {row['perplexity']:.1f} | {_pct(row['top1'])} | {_pct(row['top3'])} | "
                       f"{_pct(row['ksr3'])} |")  # fmt: skip
        out += [
            "",
            f"- chosen (tune, {r['tune_seconds']:.1f} s for {r['tune_words']:,} scored words): window "
            f"{p['window']}, cache a={p['cache']['weights']} k={p['cache']['halves']}, memory "
            f"a={p['memory']['weights']} k={p['memory']['halves']}",
            f"- tune's perplexity: unadapted {r['tune_unadapted']:.1f} -> cache {r['tune_perplexity']:.1f}; "
            f"2nd half, cache only {r['tune_memory'][0]:.1f} -> with the memory {r['tune_memory'][1]:.1f}",
            "- best perplexity by window: " + ", ".join(f"W={w}: {ppl:.1f}" for w, ppl in r["by_window"]),
            "- top-3 cache choices: "
            + "; ".join(
                f"W={c['window']} a={c['cache']['weights']} k={c['cache']['halves']}: {ppl:.2f}"
                for c, ppl in r["top3_choices"]
            ),  # fmt: skip
            f"- run time {r['seconds']:.0f} s",
            "",
        ]
    return "\n".join(out)


def main() -> None:
    run_all(__doc__, "adapt_holdout", run_corpus, report)


def run_all(doc: str, script: str, run_corpus, report) -> None:
    """A benchmark's command line: `--corpus` (repeatable) and `--out`; each corpus's `run_corpus(name)`,
    then `report(results, provenance)` to results/SCRIPT.md, both to .json."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", choices=list(FILES), action="append")
    parser.add_argument("--out", type=Path, default=HERE / "results" / f"{script}.md")
    args = parser.parse_args()
    use_one_blas_thread()
    started, load = time.strftime("%Y-%m-%d %H:%M %Z"), os.getloadavg()[0]
    command = " ".join([f"python benchmarks/{script}.py", *sys.argv[1:]])
    results = []
    for corpus in args.corpus or list(FILES):
        results.append(run_corpus(corpus))
        print(json.dumps(results[-1]["rows"], indent=1), file=sys.stderr)
    run = provenance(command, started, load)
    args.out.write_text(report(results, run) + "\n", encoding="utf-8")
    with_run = {"run": run, "results": results}
    args.out.with_suffix(".json").write_text(json.dumps(with_run, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
