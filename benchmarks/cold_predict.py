"""Cold `autocomplete predict`, old code and model format against new, side by side (issue 16).

    python benchmarks/cold_predict.py convert OLD_HOME NEW_HOME NAME   # NAME re-saved in this code's format
    python benchmarks/cold_predict.py compare OLD_CODE OLD_HOME NEW_HOME NAME [--runs 15]

OLD_CODE is a tree of the old commit (`git archive COMMIT | tar -x -C DIR`), run with PYTHONPATH=OLD_CODE on
OLD_HOME's model (format 1, ngram.npz); this tree runs on NEW_HOME's copy of the same model (`convert`: the
same arrays, the n-gram as memory-mapped .npy files). Each run is a fresh process with the model's files
evicted from the page cache first (`posix_fadvise DONTNEED`), the two alternating so that the machine's load
falls on both alike; the medians are compared. Writes results/cold_predict.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

TEXT = "to be or"


def convert(old_home: Path, new_home: Path, name: str) -> None:
    """Load NAME from OLD_HOME's store and save it, meta and all, into NEW_HOME's in this code's format."""
    os.environ["AUTOCOMPLETE_HOME"] = str(old_home)
    from autocomplete import modelfile, store

    info, predictor = store.load(name)
    os.environ["AUTOCOMPLETE_HOME"] = str(new_home)
    fields = {k: v for k, v in info.meta.items() if k not in ("format_version", "package_version", "config",
                                                              "vocab_size", "lstm_weight")}  # fmt: skip
    with store.writing(name, force=True) as folder:
        modelfile.save(folder, predictor, modelfile.config_of(info.meta), **fields)


def evict(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as f:
                os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def one_run(code: Path, home: Path, name: str, keep_cache: bool = False) -> float:
    if not keep_cache:
        evict((home / "models" / name).resolve())
    env = {**os.environ, "PYTHONPATH": str(code), "AUTOCOMPLETE_HOME": str(home)}
    started = time.perf_counter()
    # cwd: `python -m` imports from the current folder before PYTHONPATH
    subprocess.run([sys.executable, "-m", "autocomplete", "predict", TEXT, "--model", name],
                   check=True, capture_output=True, env=env, cwd=code)  # fmt: skip
    return time.perf_counter() - started


def compare(old_code: Path, old_home: Path, new_home: Path, name: str, runs: int, keep_cache: bool) -> dict:
    times = {"old": [], "new": []}
    one_run(ROOT, new_home, name)  # warms the interpreter's own files for both
    for _ in range(runs):
        times["old"].append(one_run(old_code, old_home, name, keep_cache))
        times["new"].append(one_run(ROOT, new_home, name, keep_cache))
    return times


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def markdown(times: dict, args, load: tuple[float, float]) -> str:
    from report import machine  # benchmarks/report.py

    m = machine()
    old_folder = (args.old_home / "models" / args.name).resolve()
    new_folder = (args.new_home / "models" / args.name).resolve()
    rows = []
    for key, label, folder in (("old", "old: ngram.npz read whole", old_folder),
                               ("new", "new: ngram/*.npy memory-mapped", new_folder)):  # fmt: skip
        t = sorted(times[key])
        rows.append(f"| {label} | {1000 * statistics.median(t):.0f} ms | {1000 * t[0]:.0f} ms | "
                    f"{1000 * t[-1]:.0f} ms | {folder_bytes(folder) / 1e6:.1f} MB |")  # fmt: skip
    ratio = statistics.median(times["new"]) / statistics.median(times["old"])
    return "\n".join([
        f"# {'Warm' if args.keep_cache else 'Cold'} `autocomplete predict`: model format 1 (ngram.npz) "
        "against 2 (memory-mapped .npy)",
        "",
        f"- machine: {m['cpu']}, {m['cores']} cores, {m['memory']} memory, {m['os']}, Python {m['python']}, "
        f"numpy {m['numpy']}",
        f"- new code: commit {m['commit'][:7]}{' (with uncommitted changes)' * m['dirty']}; old code: "
        f"{args.old_label}; date {date.today().isoformat()}",
        f"- load average (1 min) at the start / end: {load[0]:.2f} / {load[1]:.2f} (2 cores shared with "
        "other work)",
        f"- model: `{args.name}`, {args.model_note}; the new folder is the same model re-saved by `convert`",
        f"- command: `python benchmarks/cold_predict.py compare ...` ({args.runs} runs each, alternating; "
        f"`autocomplete predict \"{TEXT}\" --model {args.name}` in a fresh process, "
        + ("the model's files left in the page cache (warm)" if args.keep_cache else
           "the model's files evicted from the page cache before each run") + ")",
        "",
        "| code and format | median | fastest | slowest | model folder |",
        "| --- | ---: | ---: | ---: | ---: |",
        *rows,
        "",
        f"New / old median: {ratio:.3f}.",
        "",
    ])  # fmt: skip


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    sub = parser.add_subparsers(dest="step", required=True)
    c = sub.add_parser("convert")
    c.add_argument("old_home", type=Path)
    c.add_argument("new_home", type=Path)
    c.add_argument("name")
    p = sub.add_parser("compare")
    p.add_argument("old_code", type=Path)
    p.add_argument("old_home", type=Path)
    p.add_argument("new_home", type=Path)
    p.add_argument("name")
    p.add_argument("--runs", type=int, default=15)
    p.add_argument("--keep-cache", action="store_true", help="warm: the model's files stay in the page cache")
    p.add_argument("--old-label", default="the tree given")
    p.add_argument("--model-note", default="")
    args = parser.parse_args()
    if args.step == "convert":
        convert(args.old_home, args.new_home, args.name)
        return
    before = os.getloadavg()[0]
    times = compare(args.old_code, args.old_home, args.new_home, args.name, args.runs, args.keep_cache)
    text = markdown(times, args, (before, os.getloadavg()[0]))
    (HERE / "results" / ("warm_predict.md" if args.keep_cache else "cold_predict.md")).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
