"""The n-gram at scale (issue 16): pruning's cost on the git-log quality split's validation part, the growth
of the counts, their time and peak memory on git-log prefixes, and loading the n-gram from .npz vs .npy maps.

    python benchmarks/ngram_scale.py    # everything (~3 min on 2 cores); writes results/ngram_scale.md
    python benchmarks/ngram_scale.py memory [--old-code DIR]   # train's reading and counting: the peak
                                        # memory on the prefixes (ngram_memory.py); results/ngram_memory.md

The quality figures come from the quality split's train part only (`tail -n 40000 | head -n 36000` of
git-log.txt), fitted on its first 95% and scored on its last 5% as `train` does; the test part is never read.
Each prefix is counted in a fresh process under /usr/bin/time -v (peak RSS): two passes of reading and
encoding (autocomplete.encode), then the modified Kneser-Ney trigram (KneserNey.fit), saved as .npz.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from autocomplete import metrics  # noqa: E402
from autocomplete.corpus import check_file  # noqa: E402
from autocomplete.dataset import unseen_as_unknown, validation_size, windows  # noqa: E402
from autocomplete.encode import count_words, encoded_ids  # noqa: E402
from autocomplete.ngram import KneserNey  # noqa: E402
from autocomplete.ngram_files import load_folder, save_folder  # noqa: E402
from autocomplete.vocab import BOUNDARY_ID, Vocabulary  # noqa: E402

CORPUS = (
    next(
        (p for p in (ROOT.parent / "shared", ROOT.parent.parent / "shared") if (p / "corpora").is_dir()), ROOT
    )
    / "corpora"
    / "git-log.txt"
)
PRUNES = [0, 1, 2, (1, 1), (1, 2)]  # KenLM's --prune: per order 2..3, drop n-grams seen at most that often
PREFIX_MB = [1, 4, 16, None]  # None: the whole file
ONE_GB = 10**9
SWITCH_BYTES = 200 * 10**6  # the saved size up to which the proposed default prunes nothing


def prefix(size_mb: int | None, folder: Path) -> Path:
    """The first `size_mb` MB of the corpus cut at a line end (the whole file for None)."""
    if size_mb is None:
        return CORPUS
    path = folder / f"git-log-{size_mb}MB.txt"
    data = CORPUS.read_bytes()[: size_mb * 10**6]
    path.write_bytes(data[: data.rfind(b"\n") + 1])
    return path


def npz_bytes(model: KneserNey, folder: Path, name: str = "scratch.npz") -> int:
    path = folder / name
    np.savez(path, **model.to_arrays())
    return path.stat().st_size


def batch_probs(model: KneserNey):
    return lambda contexts: [model.next_word_probs(c) for c in contexts]


def quality(folder: Path) -> list[dict]:
    """N-gram alone on the validation tail of the quality split's train part, per prune setting."""
    lines = CORPUS.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)[-40000:][:36000]
    train_part = folder / "quality-train.txt"
    train_part.write_text("".join(lines), encoding="utf-8")
    counted = count_words([check_file(train_part)])
    vocab = Vocabulary.build(counted.counts)
    with encoded_ids(counted, vocab, folder) as ids:
        contexts, targets = windows(ids, 2)
        n_train = len(targets) - validation_size(len(targets), 0.05)
        seen = np.asarray(ids[: n_train + 2])
        val_y = unseen_as_unknown(targets[n_train:], seen)
        rows = []
        for prune in PRUNES:
            model = KneserNey.fit(seen, len(vocab), 3, discount=None, prune=prune)
            scores = metrics.score(batch_probs(model), contexts[n_train:], val_y)
            rows.append(
                {
                    "prune": prune,
                    **scores.to_json(),
                    "npz_bytes": npz_bytes(model, folder),
                    "pairs": [len(level.ids) for level in model.levels],
                }
            )
    return rows


def count_one(path: Path, out: Path) -> dict:
    """(In a fresh process) encode and count one corpus, unpruned and pruned; keep the unpruned model."""
    started = time.perf_counter()
    files = [check_file(path)]
    counted = count_words(files)
    vocab = Vocabulary.build(counted.counts)
    result = {"bytes": files[0].size, "tokens": counted.stream_length, "vocab": len(vocab), "prunes": []}
    with encoded_ids(counted, vocab, out) as ids:
        result["read_and_encode_s"] = time.perf_counter() - started
        for prune in (0, 1, 2):
            started = time.perf_counter()
            model = KneserNey.fit(ids, len(vocab), 3, discount=None, prune=prune)
            row = {
                "prune": prune,
                "fit_s": time.perf_counter() - started,
                "npz_bytes": npz_bytes(model, out),
                "pairs": [len(level.ids) for level in model.levels],
            }
            if prune == 0:  # the one the loading benchmark reads, in both formats
                npz_bytes(model, out, "ngram.npz")
                save_folder(model, out / "ngram")
                row["folder_bytes"] = sum(p.stat().st_size for p in (out / "ngram").iterdir())
            result["prunes"].append(row)
            del model
    return result


def growth(folder: Path) -> list[dict]:
    rows = []
    for size_mb in PREFIX_MB:
        out = folder / f"count-{size_mb or 'all'}"
        out.mkdir()
        command = [
            "/usr/bin/time",
            "-v",
            sys.executable,
            __file__,
            "count",
            str(prefix(size_mb, folder)),
            str(out),
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        rss = next(line for line in done.stderr.splitlines() if "Maximum resident set size" in line)
        rows.append({**json.loads(done.stdout), "prefix_mb": size_mb, "peak_rss_kb": int(rss.split()[-1])})
        print(f"  {size_mb or 'all'} MB: {rows[-1]['peak_rss_kb'] / 1024:.0f} MB peak", flush=True)
    return rows


def load_one(kind: str, path: Path) -> float:
    """(In a fresh process) evict the files from the page cache, then time loading + one prediction."""
    files = [path] if kind == "npz" else sorted(path.iterdir())
    for file in files:
        with file.open("rb") as f:
            os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    started = time.perf_counter()
    if kind == "npz":
        with np.load(path, allow_pickle=False) as arrays:
            model = KneserNey.from_arrays(dict(arrays))
    else:
        model = load_folder(path)
    model.next_word_probs([BOUNDARY_ID, 3])
    return time.perf_counter() - started


def loading(folder: Path, runs: int = 5) -> dict:
    out = {}
    for kind, path in (("npz", folder / "count-all" / "ngram.npz"), ("mmap", folder / "count-all" / "ngram")):
        seconds = []
        for _ in range(runs):
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, __file__, "load", kind, str(path)],
                capture_output=True,
                text=True,
                check=True,
            )
            seconds.append((float(done.stdout), time.perf_counter() - started))
        out[kind] = {
            "load_predict_s": statistics.median(s for s, _ in seconds),
            "process_s": statistics.median(p for _, p in seconds),
            "runs": seconds,
        }
    return out


def extrapolate(rows: list[dict], prune: int) -> float:
    """Saved bytes at 1 GB of text from a power law fitted to the three largest prefixes (an extrapolation),
    and the power."""
    points = [
        (r["bytes"], next(p["npz_bytes"] for p in r["prunes"] if p["prune"] == prune)) for r in rows[1:]
    ]
    x, y = np.log([p[0] for p in points]), np.log([p[1] for p in points])
    slope, intercept = np.polyfit(x, y, 1)
    return float(math.exp(intercept + slope * math.log(ONE_GB))), float(slope)


def mb(n: float) -> str:
    return f"{n / 10**6:,.1f} MB"


def proposal(info: dict) -> list[str]:
    """The default this suggests: no pruning while the unpruned n-gram stays under SWITCH_BYTES (by the
    extrapolation), trigram singletons pruned above."""
    size0, k0 = info["extrapolated"]["0"]
    switch = ONE_GB * (SWITCH_BYTES / size0) ** (1 / k0)
    whole = info["growth"][-1]
    tokens = switch * whole["tokens"] / whole["bytes"]
    q0, q1 = info["quality"][0], info["quality"][1]
    return [
        "",
        "## Proposed default",
        "",
        f"Prune nothing up to ~{tokens / 1e6:.0f}M tokens (~{mb(switch)} of text like this, where the "
        f"unpruned n-gram reaches {mb(SWITCH_BYTES)} by the extrapolation), and the trigram singletons "
        f"(prune 1) above: the saved n-gram of a 1 GB corpus then stays under 400 MB (extrapolated "
        f"{mb(info['extrapolated']['1'][0])}). What prune 1 costs on the quality split, n-gram alone: top-3 "
        f"{100 * (q1['top3'] - q0['top3']):+.2f} points, "
        f"perplexity {q1['perplexity'] / q0['perplexity']:.3f} x "
        "(at this size the default would not prune).",
    ]


def header(info: dict) -> list[str]:
    """The machine, commit, date and load lines every results file of this script starts with."""
    m = info["machine"]
    return [
        f"- machine: {m['cpu']}, {m['cores']} cores (`nproc`), {m['memory']} memory, {m['os']}, Python "
        f"{m['python']}, numpy {m['numpy']}",
        f"- commit: {m['commit'][:7]}{' (with uncommitted changes)' * m['dirty']}; date {info['date']}",
        f"- load average (1 min) at the start / end: {info['load_before']:.2f} / {info['load_after']:.2f} "
        "(the 2 cores are shared with other work: times are indicative)",
    ]


def markdown(info: dict) -> str:
    out = [
        "# The n-gram at scale (issue 16)",
        "",
        *header(info),
        "- command: `python benchmarks/ngram_scale.py` (raw figures in `ngram_scale.json`)",
        "- n-gram: modified Kneser-Ney trigram over a 20,000-word vocabulary (the defaults of `train`)",
        "",
        "## Pruning on the git-log quality split, validation part only",
        "",
        "Train part `tail -n 40000 git-log.txt | head -n 36000`; fitted on its first 95% of windows, scored "
        "on its last 5% (as `train` validates); the n-gram alone. `prune` is KenLM's: n-grams of order 2, 3 "
        "seen at most that many times are dropped (an int: the trigrams alone).",
        "",
        "| prune (bigrams, trigrams) | perplexity | top-1 | top-3 | top-5 | bigram pairs | trigram pairs "
        "| saved .npz |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in info["quality"]:
        prune = (0, r["prune"]) if isinstance(r["prune"], int) else r["prune"]
        out.append(
            f"| {tuple(prune)} | {r['perplexity']:.1f} | {100 * r['top1']:.2f}% | {100 * r['top3']:.2f}% | "
            f"{100 * r['top5']:.2f}% | {r['pairs'][0]:,} | {r['pairs'][1]:,} | {mb(r['npz_bytes'])} |"
        )
    words = info["quality"][0]["words"]
    out += [
        "",
        f"({words:,} validation words scored.)",
        "",
        "## Growth on git-log prefixes",
        "",
        "Each prefix in a fresh process under `/usr/bin/time -v`: read twice and encode to a .npy "
        "(`autocomplete.encode`), then `KneserNey.fit` three times (prune 0, 1, 2); the peak RSS covers all.",
        "",
        "| prefix | tokens | read + encode | fit (prune 0) | peak RSS | distinct bigrams | distinct "
        "trigrams | saved .npz prune 0 / 1 / 2 | .npy folder |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in info["growth"]:
        p = r["prunes"]
        out.append(
            f"| {mb(r['bytes'])} | {r['tokens']:,} | {r['read_and_encode_s']:.1f} s | "
            f"{p[0]['fit_s']:.2f} s | "
            f"{r['peak_rss_kb'] / 1024:,.0f} MiB | {p[0]['pairs'][0]:,} | {p[0]['pairs'][1]:,} | "
            f"{' / '.join(mb(x['npz_bytes']) for x in p)} | {mb(p[0]['folder_bytes'])} |"
        )
    out += [
        "",
        "Saved size at 1 GB of text, **an extrapolation**: a power law fitted to the 4, 16 and 29 MB "
        "prefixes (size ∝ bytes^k), not a measurement:",
        "",
    ]
    for prune, (size, slope) in info["extrapolated"].items():
        out.append(f"- prune {prune}: {mb(size)} (k = {slope:.2f})")
    out += proposal(info)
    load = info["loading"]
    out += [
        "",
        "## Loading the whole-git-log n-gram (prune 0)",
        "",
        "Fresh process each run, the files evicted from the page cache first (`posix_fadvise DONTNEED`); "
        "timed from before the load to after one `next_word_probs`; median of 5 runs.",
        "",
        "| format | load + one prediction | whole process (python start, imports) |",
        "| --- | ---: | ---: |",
        f"| ngram.npz, `np.load` + `KneserNey.from_arrays` | {1000 * load['npz']['load_predict_s']:.0f} ms "
        f"| {1000 * load['npz']['process_s']:.0f} ms |",
        f"| .npy folder, `ngram_files.load_folder` (mmap) | {1000 * load['mmap']['load_predict_s']:.1f} ms "
        f"| {1000 * load['mmap']['process_s']:.0f} ms |",
        "",
    ]
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("step", nargs="?", default="all", choices=["all", "count", "load", "memory"])
    parser.add_argument("args", nargs="*")
    parser.add_argument("--old-code", type=Path, help="memory: also run this tree of an older commit")
    parser.add_argument("--old-label", help="memory: what the old tree is, for the results (its commit)")
    args = parser.parse_args()
    if args.step == "memory":
        memory(args.old_code, args.old_label)
        return
    if args.step == "count":
        print(json.dumps(count_one(Path(args.args[0]), Path(args.args[1]))))
        return
    if args.step == "load":
        print(load_one(args.args[0], Path(args.args[1])))
        return
    from report import machine  # benchmarks/report.py

    info = {"machine": machine(), "date": date.today().isoformat(), "load_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="ngram-scale-") as tmp:
        folder = Path(tmp)
        print("quality split, validation part", flush=True)
        info["quality"] = quality(folder)
        print("growth on prefixes", flush=True)
        info["growth"] = growth(folder)
        print("loading", flush=True)
        info["loading"] = loading(folder)
    info["load_after"] = os.getloadavg()[0]
    info["extrapolated"] = {str(p): extrapolate(info["growth"], p) for p in (0, 1, 2)}
    (HERE / "results" / "ngram_scale.json").write_text(json.dumps(info, indent=1) + "\n")
    (HERE / "results" / "ngram_scale.md").write_text(markdown(info))


def memory(old_code: Path | None, old_label: str | None) -> None:
    import ngram_memory  # benchmarks/ngram_memory.py
    from report import machine  # benchmarks/report.py

    info = {"machine": machine(), "date": date.today().isoformat(), "load_before": os.getloadavg()[0]}
    info["old_flag"] = f' --old-code DIR --old-label "{old_label}"' if old_code else ""
    with tempfile.TemporaryDirectory(prefix="ngram-memory-") as tmp:
        folder = Path(tmp)
        prefixes = [prefix(size_mb, folder) for size_mb in PREFIX_MB]
        info["new"] = ngram_memory.growth(prefixes, folder, ROOT, "new")
        if old_code:
            info["old_label"] = old_label or str(old_code)
            info["old"] = ngram_memory.growth(prefixes, folder, old_code, "old")
    info["load_after"] = os.getloadavg()[0]
    (HERE / "results" / "ngram_memory.json").write_text(json.dumps(info, indent=1) + "\n")
    (HERE / "results" / "ngram_memory.md").write_text(ngram_memory.markdown(info, header(info)))


if __name__ == "__main__":
    main()
