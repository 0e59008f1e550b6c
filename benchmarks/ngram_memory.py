"""Peak memory of training's reading and counting, without the LSTM, on git-log prefixes (issue 16).

    python benchmarks/ngram_scale.py memory [--old-code DIR]    # writes results/ngram_memory.md (+ .json)

Each prefix (1, 4, 16 MB and the whole file, cut at a line end, written to a temporary folder) runs in a fresh
process under /usr/bin/time -v: what `train` does around the LSTM, in its order and with its functions:
`dataset.streamed` (count, fix the vocabulary, encode to a memory-mapped .npy), the windows and the LSTM's
vocabulary, the held-out n-gram of the training part, then (the held-out one dropped, as train does) the
final n-gram of every token, saved as the model folder's ngram/ .npy files. With --old-code (a tree of an
older commit, `git archive COMMIT | tar -x -C DIR`) the same runs with that code: its in-memory
`dataset.prepare`, and the held-out n-gram still held while the final one is counted, as it did.

The bound of issue 16: peak(whole file) <= 1.5 x peak(1 MB) + the saved n-gram's size.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _status() -> dict[str, int]:
    """RssAnon, RssFile (the memory-mapped ids and n-gram pages) and VmHWM of this process, in kB."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("RssAnon", "RssFile", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


def stage(path: Path, out: Path) -> dict:
    """(In a fresh process, with whichever autocomplete is on the path) read, encode and count as train
    does; what it measured, as a dict."""
    import contextlib

    import numpy as np

    from autocomplete import dataset, train
    from autocomplete.config import TrainConfig

    config, marks, started = TrainConfig(), {}, time.perf_counter()
    passes: dict[str, float] = {}  # each reading pass's name -> when it last told its progress
    streamed = getattr(dataset, "streamed", None)
    if streamed is None:  # the old code: the ids in memory
        corpus_context = contextlib.nullcontext(dataset.prepare([path], config))
    else:

        def tell(step: str, done: int, total: int) -> None:
            passes[step] = time.perf_counter()

        corpus_context = streamed([path], config, workdir=out, progress=tell)
    with corpus_context as corpus:
        marks["read_s"], marks["after_reading"] = time.perf_counter() - started, _status()
        if passes:  # the first pass ends with its last chunk; the second then encodes
            marks["count_s"] = passes[dataset.COUNTING] - started
            marks["ids_bytes"] = sum(f.stat().st_size for f in out.rglob("*.npy"))  # the one file: the ids
        phase = time.perf_counter()
        contexts, targets = dataset.windows(corpus.ids, config.context)
        n_train = len(targets) - dataset.validation_size(len(targets), config.val_split)
        dataset.lstm_vocab_size(corpus, config)
        seen = corpus.ids[: n_train + config.context]
        held_out = train._ngram(corpus, config, seen)
        dataset.unseen_as_unknown(targets[n_train:], seen)
        marks["held_out_s"], marks["after_held_out"] = time.perf_counter() - phase, _status()
        phase = time.perf_counter()
        if streamed is not None:
            from autocomplete import heap

            del held_out  # train drops it before the final n-gram, and gives its memory back
            heap.give_back()
        final = train._ngram(corpus, config, corpus.ids)
        marks["ngram_s"] = time.perf_counter() - started - marks["read_s"]
        marks["final_s"], marks["after_final"] = time.perf_counter() - phase, _status()
        phase = time.perf_counter()
        folder = out / "ngram"
        folder.mkdir()
        for name, array in final.to_arrays().items():  # the arrays the model folder holds, uncompressed
            np.save(folder / f"{name}.npy", array)
        for m, left in enumerate(final._left, start=1):
            np.save(folder / f"l{m}_left.npy", np.asarray(left))
        saved = sum(p.stat().st_size for p in folder.iterdir())
        marks["save_s"] = time.perf_counter() - phase
    return {"bytes": path.stat().st_size, "tokens": int(len(corpus.ids)), "vocab": len(corpus.vocab),
            "saved_bytes": saved, **marks}  # fmt: skip


def run_prefix(path: Path, out: Path, code: Path) -> dict:
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": str(code)}
    command = ["/usr/bin/time", "-v", sys.executable, str(HERE / "ngram_memory.py"), str(path), str(out)]
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=env, cwd=code)
    rss = next(line for line in done.stderr.splitlines() if "Maximum resident set size" in line)
    wall = next(line for line in done.stderr.splitlines() if "Elapsed (wall clock)" in line)
    return {**json.loads(done.stdout), "peak_rss_kb": int(rss.split()[-1]), "wall": wall.split()[-1]}


def growth(prefixes: list[Path], folder: Path, code: Path, label: str) -> list[dict]:
    rows = []
    for path in prefixes:
        rows.append(run_prefix(path, folder / f"{label}-{path.stem}", code))
        print(f"  {label} {path.name}: {rows[-1]['peak_rss_kb'] / 1024:.0f} MiB peak", flush=True)
    return rows


def bound(rows: list[dict]) -> dict:
    peak_1, peak_all = rows[0]["peak_rss_kb"] * 1024, rows[-1]["peak_rss_kb"] * 1024
    saved = rows[-1]["saved_bytes"]
    return {"peak_1": peak_1, "peak_all": peak_all, "saved": saved, "bound": 1.5 * peak_1 + saved,
            "met": peak_all <= 1.5 * peak_1 + saved}  # fmt: skip


def mib(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB"


def table(rows: list[dict]) -> list[str]:
    out = [
        "| prefix | tokens | read + encode | n-grams | peak RSS | at the end: anonymous / file-backed | "
        "saved n-gram |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        end = r["after_final"]
        out.append(
            f"| {r['bytes'] / 1e6:.1f} MB | {r['tokens']:,} | {r['read_s']:.1f} s | {r['ngram_s']:.1f} s | "
            f"{mib(r['peak_rss_kb'] * 1024)} | {mib(end['RssAnon'] * 1024)} / {mib(end['RssFile'] * 1024)} | "
            f"{r['saved_bytes'] / 1e6:.1f} MB |"
        )
    return out


def markdown(info: dict, header: list[str]) -> str:
    out = [
        "# Peak memory of reading and counting, git-log prefixes (issue 16)",
        "",
        *header,
        f"- command: `python benchmarks/ngram_scale.py memory{info['old_flag']}` (raw figures in "
        "`ngram_memory.json`)",
        "- what runs: train's steps around the LSTM, without it (see `benchmarks/ngram_memory.py`): reading "
        "and encoding, windows, the held-out and the final modified Kneser-Ney trigram, saved as .npy files; "
        "peak RSS by `/usr/bin/time -v`; RSS at the end from /proc (file-backed: the libraries, and the "
        "pages of the memory-mapped ids still mapped, which the counting lets go once read)",
        "",
        "## This commit",
        "",
        *table(info["new"]),
    ]
    out += _bound_lines(bound(info["new"]))
    if info.get("old"):
        out += ["", f"## The old code ({info['old_label']})", "", *table(info["old"]), *_bound_lines(
            bound(info["old"]))]
    return "\n".join(out) + "\n"


def _bound_lines(b: dict) -> list[str]:
    verdict = "met" if b["met"] else "NOT met"
    return [
        "",
        f"Bound: peak(whole) = {mib(b['peak_all'])} against 1.5 x peak(1 MB) + saved n-gram = 1.5 x "
        f"{mib(b['peak_1'])} + {mib(b['saved'])} = {mib(b['bound'])}: {verdict}.",
    ]


if __name__ == "__main__":
    print(json.dumps(stage(Path(sys.argv[1]), Path(sys.argv[2]))))
