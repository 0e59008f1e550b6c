"""The benchmark: the shipped model against the course's, a Kneser-Ney trigram and most-frequent-follower.

    python benchmarks/run.py                     # Shakespeare split + the bundled corpus; ~7 min on 2 cores
    python benchmarks/run.py --skip-notebook     # Shakespeare only

Side by side in one run, with a context of two words, on the standard split of
../shared/corpora/tinyshakespeare.txt (train: its first 36000 lines, test: the rest; see
../shared/corpora/README.md), and then on the project's own corpora/notebook.txt (modern prose; train: its
first 90% of lines, test: the last 10%):

1. default: `autocomplete train TRAIN` with every default, the hybrid predictor that ships;
2. tiny: `autocomplete train TRAIN --preset tiny`, the course's 8/8/8 model, no n-gram;
3. Kneser-Ney: an interpolated Kneser-Ney trigram, one discount 0.75 (benchmarks/baselines.py);
4. most-frequent-follower: maximum-likelihood trigram -> bigram -> unigram back-off (markovify-style).

Every training runs in a subprocess of its own under /usr/bin/time (wall time, peak resident memory). The
quality figures come from autocomplete.evaluate (the same code as `autocomplete evaluate`); latency from
replaying the test text keystroke by keystroke, line by line as typed in the REPL, through suggest().
Results go to benchmarks/results/shakespeare.md (with the machine, the commit and this command); split
files and models go to a temporary folder, never into the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import report
from baselines import MostFrequentFollower, kneser_ney

from autocomplete import modelfile, store
from autocomplete.blas import use_one_blas_thread
from autocomplete.config import TrainConfig
from autocomplete.dataset import prepare, windows
from autocomplete.evaluate import Evaluation, evaluate, read_stream
from autocomplete.inference import LstmWeights, Predictor
from autocomplete.ngram import KneserNey
from autocomplete.suggest import suggest
from autocomplete.text import MARKERS
from autocomplete.vocab import FIRST_WORD_ID, Vocabulary

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHAKESPEARE = (ROOT.parent / "shared" / "corpora" / "tinyshakespeare.txt").resolve()
NOTEBOOK = ROOT / "corpora" / "notebook.txt"
RESULTS = HERE / "results"
AUTOCOMPLETE = Path(sys.executable).parent / "autocomplete"
K = 3  # suggestions the simulated user sees
COLD_RUNS = 7
LATENCY_UNCACHED = 3000  # keystrokes sampled evenly from the trace for the uncached latency
LATENCY_CACHED = 30000  # the first keystrokes of the trace, cache on
EXTRA_TRAIN_ARGS: list[str] = []  # --smoke: a quick run to try the script, never a result


@dataclass
class Row:
    """One predictor's figures on one corpus."""

    name: str
    evaluation: Evaluation | None = None
    perplexity_note: str = ""
    train_seconds: float | None = None
    peak_mb: float | None = None
    disk_bytes: int | None = None
    disk_note: str = ""
    latency: dict = field(default_factory=dict)
    cold_start: float | None = None
    extra: dict = field(default_factory=dict)


# --- measuring --------------------------------------------------------------------------------------------


def timed_subprocess(command: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """Run `command` under /usr/bin/time: (wall seconds, peak resident MB, stdout). Fails loudly."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        full = ["/usr/bin/time", "-o", report.name, "-f", "%e %M", *command]
        done = subprocess.run(full, capture_output=True, text=True, env={**os.environ, **(env or {})})
        if done.returncode:
            sys.exit(f"failed: {' '.join(command)}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
        wall, rss_kb = report.read().split()[-2:]
    return float(wall), float(rss_kb) / 1024, done.stdout


def folder_bytes(folder: Path, names: list[str] | None = None) -> int:
    """The bytes of the files in `folder` and its subfolders (those under `names` only, if given)."""
    return sum(
        p.stat().st_size
        for p in folder.rglob("*")
        if p.is_file() and (names is None or p.relative_to(folder).parts[0] in names)
    )


def typing_trace(path: Path) -> list[str]:
    """What the REPL's line holds before each keystroke when the test text is typed line by line."""
    trace = []
    for line in path.read_text(encoding="utf-8").splitlines():
        trace += [line[:i] for i in range(len(line) + 1)] if line.strip() else []
    return trace


def latencies(model, trace: list[str], k: int = 5) -> list[float]:
    """Seconds per suggest() call over the trace."""
    times, clock = [], time.perf_counter
    for text in trace:
        start = clock()
        suggest(text, model, k)
        times.append(clock() - start)
    return times


def latency_figures(make_uncached, cached, trace: list[str]) -> dict:
    """p50/p99 in ms: uncached (every call computes) on an even sample; cached on the trace's start."""
    sample = trace[:: max(1, len(trace) // LATENCY_UNCACHED)][:LATENCY_UNCACHED]
    uncached = make_uncached()
    latencies(uncached, sample[:50])  # warm up numpy
    cold = np.array(latencies(uncached, sample)) * 1e3
    if hasattr(cached, "clear_cache"):
        cached.clear_cache()
    warm = np.array(latencies(cached, trace[:LATENCY_CACHED])) * 1e3
    return {
        "uncached_p50": float(np.percentile(cold, 50)), "uncached_p99": float(np.percentile(cold, 99)),
        "cached_p50": float(np.percentile(warm, 50)), "cached_p99": float(np.percentile(warm, 99)),
        "uncached_calls": len(cold), "cached_calls": len(warm),
    }  # fmt: skip


def cold_start(command: list[str], env: dict | None = None, runs: int = COLD_RUNS) -> float:
    """Median wall time of a fresh process running `command`."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True, env={**os.environ, **(env or {})})
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def without_cache(predictor: Predictor) -> Predictor:
    return Predictor(predictor.vocab, predictor.context_size, predictor.lstm, predictor.ngram,
                     predictor.lstm_weight, cache_size=0)  # fmt: skip


def infinite_perplexity(model: MostFrequentFollower, test: Path) -> tuple[str, float]:
    """Its maximum-likelihood probability of each scored test word: the share that gets 0."""
    ids = model.vocab.encode(read_stream(test))
    contexts, targets = windows(ids, model.context_size)
    keep = targets >= FIRST_WORD_ID
    p = np.array([model.probability(c, t) for c, t in zip(contexts[keep], targets[keep], strict=True)])
    zero = float((p == 0).mean())
    return f"∞ ({zero:.1%} of test words get probability 0)", zero


# --- one corpus -------------------------------------------------------------------------------------------


def fit_baseline(kind: str, train_path: Path, out: Path) -> None:
    """Subprocess entry: fit a baseline on the training file and save it (its own time and memory)."""
    corpus = prepare([train_path], TrainConfig())  # the same vocabulary as `autocomplete train` builds
    if kind == "kn":
        model = KneserNey.fit(corpus.ids, len(corpus.vocab), 3, 0.75)
    else:
        model = MostFrequentFollower.fit(corpus.vocab, corpus.ids)
    out.mkdir(parents=True, exist_ok=True)
    corpus.vocab.save(out / modelfile.VOCAB_FILE)
    np.savez(out / "model.npz", **model.to_arrays())


def trained_parameters(lstm, config: dict) -> int:
    """The network's trained parameters: the numbers in weights.npz, less the softmax kernel when it is the
    embedding matrix written out again (tied embeddings)."""
    numbers = sum(int(np.prod(a.shape)) for a in lstm.to_arrays().values())
    return numbers - (lstm.output_kernel.size if config.get("tie_embeddings") else 0)


def bench_corpus(label: str, train_path: Path, test_path: Path, work: Path, latency: bool) -> dict:
    """Train and fit the four predictors on `train_path` and measure them on `test_path`."""
    home = work / f"home-{label}"
    env = {"AUTOCOMPLETE_HOME": str(home), "COLUMNS": "120"}
    os.environ["AUTOCOMPLETE_HOME"] = str(home)  # store.load() below reads the same store
    names = {"default": f"{label}-default", "tiny": f"{label}-tiny"}
    loads = {}
    trained = {}
    for key, options in (("default", []), ("tiny", ["--preset", "tiny"])):
        loads[key] = os.getloadavg()[0]
        command = [str(AUTOCOMPLETE), "train", str(train_path), "--name", names[key], *options]
        command += EXTRA_TRAIN_ARGS
        trained[key] = timed_subprocess(command, env)[:2]
        print(f"  trained {key}: {trained[key][0]:.0f} s, {trained[key][1]:.0f} MB")
    fitted = {}
    for kind in ("kn", "mff"):
        out = work / f"{label}-{kind}"
        wall, peak, _ = timed_subprocess([sys.executable, __file__, "--fit", kind, str(train_path), str(out)])
        fitted[kind] = (wall, peak, folder_bytes(out))

    trace = typing_trace(test_path) if latency else []
    rows = []
    for key, title in (("default", "1. default (hybrid, ships)"), ("tiny", "2. --preset tiny (course)")):
        info, predictor = store.load(names[key])
        row = Row(title, evaluate(test_path, predictor, K))
        row.train_seconds, row.peak_mb = trained[key]
        row.disk_bytes = folder_bytes(info.folder)
        read = folder_bytes(info.folder, [modelfile.WEIGHTS_FILE, modelfile.NGRAM_DIR, modelfile.VOCAB_FILE])
        row.disk_note = f"{read / 1e6:.1f} MB of it read by `predict`"
        meta = info.meta
        row.extra = {
            "epochs": f"{meta['epochs_run']} (best: {meta['best_epoch']})"
            + (f", then {meta['refit_epochs']} on all the text" if meta.get("refit_epochs") else ""),
            "lstm_words": predictor.lstm.vocab_size,
            "lstm_weight": meta["lstm_weight"],
            "parameters": trained_parameters(predictor.lstm, meta["config"]),
            "config": meta["config"],
        }
        if latency:
            row.latency = latency_figures(lambda p=predictor: without_cache(p), predictor, trace)
            predict = [str(AUTOCOMPLETE), "predict", "to be or", "--model", names[key]]
            row.cold_start = cold_start(predict, env)
        rows.append(row)
        if key == "default" and predictor.ngram is not None:  # the mix's LSTM half alone, for insight
            lstm_only = Predictor(predictor.vocab, predictor.context_size, predictor.lstm)
            rows.append(Row("   (the default's LSTM alone)", evaluate(test_path, lstm_only, K)))
            # (its "other word" output shared evenly among the words it does not predict itself)

    corpus = prepare([train_path], TrainConfig())
    knm = kneser_ney(corpus.vocab, corpus.ids)
    mff = MostFrequentFollower.fit(corpus.vocab, corpus.ids)
    fresh = {
        "kn": lambda: without_cache(knm),
        "mff": lambda: MostFrequentFollower.fit(corpus.vocab, corpus.ids, cache_size=0),
    }
    baselines = (("kn", knm, "3. Kneser-Ney trigram, d=0.75"), ("mff", mff, "4. most-frequent-follower"))
    for kind, model, title in baselines:
        row = Row(title, evaluate(test_path, model, K))
        row.train_seconds, row.peak_mb, row.disk_bytes = fitted[kind]
        row.disk_note = "count arrays + vocab.json"
        if kind == "mff":
            row.perplexity_note, row.extra["zero_share"] = infinite_perplexity(model, test_path)
        if latency:
            row.latency = latency_figures(fresh[kind], model, trace)
        rows.append(row)
    result = {
        "label": label, "rows": rows, "train_words": corpus.words, "vocab": len(corpus.vocab),
        "distinct_words": len(set(read_stream(train_path))) - 1,
        "loads": {names[k]: v for k, v in loads.items()},
    }  # fmt: skip
    if latency:
        result["latency_20k"] = latency_at_20k(corpus, trace)
        result["trace_keystrokes"] = len(trace)
    return result


def latency_at_20k(corpus, trace: list[str]) -> dict:
    """The core's latency target is for a 20k-word vocabulary: the default sizes with random weights and the
    vocabulary padded to 20000 words (Shakespeare's has fewer), the n-gram fitted on the same ids. The LSTM
    here predicts all 20000 words itself, the slowest case (a trained model's predicts only the words seen
    at least --lstm-min-count times)."""
    config = TrainConfig()
    words = corpus.vocab.words[len(MARKERS) :]
    padding = tuple(f"zz{i:05d}" for i in range(20000 - len(words)))
    vocab = Vocabulary(MARKERS + words + padding)
    v, e, h, d = len(vocab), config.embedding_dim, config.units, config.hidden
    rng = np.random.default_rng(0)
    shapes = [(v, e), (e, 4 * h), (h, 4 * h), (4 * h,), (h, d), (d,), (d, v), (v,)]
    lstm = LstmWeights(*(rng.normal(scale=0.1, size=s).astype(np.float32) for s in shapes))
    ngram = KneserNey.fit(corpus.ids, v, config.context + 1, discount=None)
    predictor = Predictor(vocab, config.context, lstm, ngram, 0.5)
    figures = latency_figures(lambda: without_cache(predictor), predictor, trace)
    return {"vocab": v - len(MARKERS), **figures}


def split(lines: list[str], cut: int, work: Path, label: str) -> tuple[Path, Path]:
    train, test = work / f"{label}-train.txt", work / f"{label}-test.txt"
    train.write_text("".join(lines[:cut]), encoding="utf-8")
    test.write_text("".join(lines[cut:]), encoding="utf-8")
    return train, test


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--skip-notebook", action="store_true", help="only the Shakespeare split")
    parser.add_argument("--out", type=Path, default=RESULTS / "shakespeare.md")
    parser.add_argument("--smoke", action="store_true", help="train one epoch only, to try the script out")
    parser.add_argument("--fit", nargs=3, metavar=("KIND", "TRAIN", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fit:
        fit_baseline(args.fit[0], Path(args.fit[1]), Path(args.fit[2]))
        return
    if args.smoke:
        EXTRA_TRAIN_ARGS.extend(["--epochs", "1"])
    if not SHAKESPEARE.is_file():
        sys.exit(f"{SHAKESPEARE} not found: the benchmark reads it from ../shared/corpora (see its README)")
    use_one_blas_thread()  # the suggestion latency is measured in this process: as `predict` and the REPL run
    command = " ".join(["python benchmarks/run.py", *sys.argv[1:]])
    started, clock = time.strftime("%Y-%m-%d %H:%M %Z"), time.monotonic()
    info = report.machine()
    tf_import = cold_start([sys.executable, "-c", "import tensorflow"], runs=3)
    results = []
    with tempfile.TemporaryDirectory(prefix="autocomplete-bench-") as tmp:
        work = Path(tmp)
        print("Shakespeare, the standard split")
        lines = SHAKESPEARE.read_text(encoding="utf-8").splitlines(keepends=True)
        result = bench_corpus("shakespeare", *split(lines, 36000, work, "shakespeare"), work, latency=True)
        result.update(
            title="Shakespeare: the standard split",
            train_desc="head -n 36000 ../shared/corpora/tinyshakespeare.txt",
            test_desc="tail -n +36001 ../shared/corpora/tinyshakespeare.txt",
        )
        results.append(result)
        if not args.skip_notebook:
            print("The bundled corpus: corpora/notebook.txt")
            lines = NOTEBOOK.read_text(encoding="utf-8").splitlines(keepends=True)
            cut = round(len(lines) * 0.9)
            result = bench_corpus("notebook", *split(lines, cut, work, "notebook"), work, latency=False)
            result.update(
                title="Modern prose: the bundled corpus, its last 10% of lines held out",
                train_desc=f"head -n {cut} corpora/notebook.txt",
                test_desc=f"tail -n +{cut + 1} corpora/notebook.txt",
            )
            results.append(result)
    settings = {"minutes": (time.monotonic() - clock) / 60, "uncached": LATENCY_UNCACHED,
                "cached": LATENCY_CACHED, "cold_runs": COLD_RUNS}  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = report.markdown(results, info, tf_import, command, started, settings)
    old = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
    if report.NOTES in old:  # hand-written findings stay; reread them against the new figures
        text += "\n" + old[old.index(report.NOTES) :]
    args.out.write_text(text, encoding="utf-8")
    raw = json.dumps(report.raw(results, info), indent=1, default=str)
    args.out.with_suffix(".json").write_text(raw + "\n", encoding="utf-8")
    print(report.summary(results))
    print(f"\nwrote {args.out} and {args.out.with_suffix('.json').name}")


if __name__ == "__main__":
    main()
