"""The growth curve of a whole default training (issue 16): git-log prefixes of 1, 4, 16 MB, the whole file.

    python benchmarks/growth.py run --work W [--sizes 1,4,16,all]   # resumable: a measured size is kept
    python benchmarks/growth.py report --work W                     # writes results/growth.md and .json

Each size trains with every default (`train.train(paths, TrainConfig())`, the function `autocomplete train`
calls) in a fresh process of its own, into the store W/home, with a reporter that records when each phase
and epoch ends; the process's peak RSS is read from getrusage at the end. Then, for the saved model: its
size on disk and the n-gram arrays' share, cold `autocomplete predict` (fresh processes, the model's files
evicted from the page cache, the median of 5), and the uncached suggestion's p50/p99 (one BLAS thread, the
predictor's cache cleared before each call, contexts from the last 4,000 lines). Records go to
W/growth.jsonl, one line per size, with the load average before and after: the machine is shared, so the
figures are read with it. The prefixes are written to W, never into the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from cold_predict import evict, folder_bytes  # noqa: E402
from ngram_scale import CORPUS, prefix  # noqa: E402
from repl_latency import commit, machine  # noqa: E402

SIZES = {"1": 1, "4": 4, "16": 16, "all": None}
COLD_RUNS = 5
CALLS = 1000


class Recorder:
    """train.Reporter that keeps (seconds since start, event, details) for each phase, pass and epoch."""

    def __init__(self):
        self.started, self.events = time.monotonic(), []

    def _add(self, *event):
        self.events.append([round(time.monotonic() - self.started, 3), *event])

    def phase(self, text):
        self._add("phase", text)

    def reading(self, step, done, total):
        if done == total:
            self._add("read", step, total)

    def start(self, epochs, steps, *rest):
        self._add("start", epochs, steps)

    def batch(self, epoch, step, loss):
        pass

    def epoch(self, epoch, loss, val_perplexity, improved):
        self._add("epoch", epoch, loss, val_perplexity, improved)


def train_here(path: Path, name: str) -> None:
    """The child process: one default training; its record as JSON on stdout."""
    from autocomplete import train
    from autocomplete.config import TrainConfig

    recorder = Recorder()
    result = train.train([path], TrainConfig(), name=name, force=True, reporter=recorder)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({
        "words": result.words, "vocab": result.vocab_size, "lstm_vocab": result.lstm_vocab_size,
        "epochs_run": result.epochs_run, "best_epoch": result.best_epoch, "refit_epochs": result.refit_epochs,
        "seconds": result.seconds, "peak_mib": peak_kb / 1024, "events": recorder.events,
        "validation": None if result.validation is None else result.validation.to_json(),
    }))  # fmt: skip


def cold_predict(home: Path, name: str) -> list[float]:
    env = {**os.environ, "AUTOCOMPLETE_HOME": str(home)}
    times = []
    for _ in range(COLD_RUNS):
        evict((home / "models" / name).resolve())
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "autocomplete", "predict", "fix the", "--model", name],
                       check=True, capture_output=True, env=env, cwd=ROOT)  # fmt: skip
        times.append(time.perf_counter() - started)
    return times


def suggestion_latency(home: Path, name: str) -> dict[str, float]:
    """Uncached suggest() over prefixes of the corpus's last lines, one BLAS thread: p50/p99 in ms."""
    import numpy as np

    from autocomplete import store
    from autocomplete.blas import use_one_blas_thread
    from autocomplete.suggest import suggest

    use_one_blas_thread()
    os.environ["AUTOCOMPLETE_HOME"] = str(home)
    _, predictor = store.load(name)
    lines = [ln for ln in CORPUS.read_text(encoding="utf-8", errors="replace").split("\n")[-4000:] if ln]
    trace = [line[:i] for line in lines for i in range(1, len(line) + 1, 3)][:CALLS]
    clock, out = time.perf_counter, []
    for text in trace[:100] + trace:  # the first 100 warm numpy up and are not counted
        predictor.clear_cache()
        start = clock()
        suggest(text, predictor, 5)
        out.append(clock() - start)
    ms = np.array(out[100:]) * 1e3
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)), "calls": len(ms)}


def measure(work: Path, label: str) -> dict:
    home = work / "home"
    path = prefix(SIZES[label], work)
    name = f"growth-{label}"
    load_before = os.getloadavg()[0]
    env = {**os.environ, "AUTOCOMPLETE_HOME": str(home), "PYTHONPATH": str(ROOT)}
    child = subprocess.run([sys.executable, __file__, "child", str(path), name], capture_output=True,
                           text=True, env=env, cwd=ROOT)  # fmt: skip
    if child.returncode:
        sys.exit(f"training {label} failed:\n{child.stderr[-3000:]}")
    record = json.loads(child.stdout.strip().splitlines()[-1])
    folder = (home / "models" / name).resolve()
    record.update(
        label=label, bytes=path.stat().st_size, load_before=load_before,
        saved_bytes=folder_bytes(folder), ngram_bytes=folder_bytes(folder / "ngram"),
        cold_predict_s=cold_predict(home, name), load_after=os.getloadavg()[0],
        date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), commit=commit(), machine=machine(),
    )  # fmt: skip
    child = subprocess.run([sys.executable, __file__, "latency", str(home), name], capture_output=True,
                           text=True, env=env, cwd=ROOT, check=True)  # fmt: skip
    record["suggestion"] = json.loads(child.stdout.strip().splitlines()[-1])
    return record


def records(work: Path) -> dict[str, dict]:
    path = work / "growth.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return {r["label"]: r for r in map(json.loads, lines)}


def run(work: Path, sizes: list[str]) -> None:
    work.mkdir(parents=True, exist_ok=True)
    for label in sizes:
        if label in records(work):
            continue
        record = measure(work, label)
        with (work / "growth.jsonl").open("a") as f:
            f.write(json.dumps(record) + "\n")
        print(f"{label}: {record['seconds']:.0f} s, peak {record['peak_mib']:.0f} MiB", flush=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        return train_here(Path(sys.argv[2]), sys.argv[3])
    if len(sys.argv) > 1 and sys.argv[1] == "latency":
        return print(json.dumps(suggestion_latency(Path(sys.argv[2]), sys.argv[3])))
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("what", choices=["run", "report"])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--sizes", default="1,4,16,all")
    args = parser.parse_args()
    if args.what == "run":
        run(args.work, [s for s in args.sizes.split(",") if s in SIZES])
    else:
        from growth_report import write

        write(records(args.work), HERE / "results")


if __name__ == "__main__":
    main()
