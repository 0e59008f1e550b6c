"""The benchmark's results as markdown (results/shakespeare.md), as JSON, and as a summary on the terminal."""

from __future__ import annotations

import platform
import subprocess
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTES = "<!-- notes: written by hand, kept when the benchmark rewrites this file -->"


def machine() -> dict:
    """What the figures were measured on: lscpu, nproc, free, versions, and the commit."""

    def run(*command: str) -> str:
        try:
            return subprocess.run(command, capture_output=True, text=True, cwd=ROOT).stdout.strip()
        except OSError:
            return "?"

    def field(output: str, start: str, pick) -> str:
        return next((pick(line) for line in output.splitlines() if line.startswith(start)), "?")

    return {
        "cpu": field(run("lscpu"), "Model name", lambda line: line.split(":", 1)[1].strip()),
        "cores": run("nproc"),
        "memory": field(run("free", "-h"), "Mem:", lambda line: line.split()[1]),
        "os": platform.platform(),
        "python": platform.python_version(),
        "numpy": version("numpy"),
        "tensorflow": version("tensorflow"),
        "commit": run("git", "rev-parse", "HEAD"),
        "dirty": bool(run("git", "status", "--porcelain")),
    }


def pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def quality_table(result: dict) -> list[str]:
    lines = [
        "| predictor | perplexity | unknown | top-1 | top-3 | top-5 | KSR@3 | words/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        s, ksr = row.evaluation.scores, row.evaluation.ksr
        cells = [
            row.name,
            row.perplexity_note or f"{s.perplexity:.1f}",
            pct(s.unknown_share),
            pct(s.top1),
            pct(s.top3),
            pct(s.top5),
            pct(ksr.rate),
            f"{row.evaluation.words_per_second:,.0f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def cost_table(result: dict, latency: bool) -> list[str]:
    head = ["predictor", "training time", "peak training memory", "size on disk"]
    if latency:
        head += ["suggest p50 / p99, uncached", "p50 / p99, cached (typing trace)", "cold `predict`"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in result["rows"]:
        if row.train_seconds is None:
            continue
        cells = [
            row.name,
            f"{row.train_seconds:.1f} s",
            f"{row.peak_mb:,.0f} MB",
            f"{row.disk_bytes / 1e6:.2f} MB ({row.disk_note})",
        ]
        if latency:
            lat = row.latency
            cells += [
                f"{lat['uncached_p50']:.3f} / {lat['uncached_p99']:.3f} ms",
                f"{lat['cached_p50']:.3f} / {lat['cached_p99']:.3f} ms",
                f"{row.cold_start:.2f} s" if row.cold_start is not None else "—",
            ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def targets(result: dict, tf_import: float) -> list[str]:
    """Issue 4's targets for the default model, each with its figures and whether it is met."""
    rows = {r.name[:2]: r for r in result["rows"]}
    ours, kn = rows["1."], rows["3."]
    o, b = ours.evaluation, kn.evaluation
    ratio = o.scores.perplexity / b.scores.perplexity
    top3, ksr = o.scores.top3 - b.scores.top3, o.ksr.rate - b.ksr.rate
    lat20 = result["latency_20k"]
    own = ours.latency["uncached_p99"]
    checks = [
        (
            "perplexity ≤ 0.85 × Kneser-Ney's",
            f"{o.scores.perplexity:.1f} / {b.scores.perplexity:.1f} = {ratio:.3f} ×",
            ratio <= 0.85,
        ),
        (
            "top-3 ≥ Kneser-Ney's + 1.5 points",
            f"{pct(o.scores.top3)} vs {pct(b.scores.top3)}: {100 * top3:+.2f} points",
            top3 >= 0.015,
        ),
        (
            "KSR@3 ≥ Kneser-Ney's + 1 point",
            f"{pct(o.ksr.rate)} vs {pct(b.ksr.rate)}: {100 * ksr:+.2f} points",
            ksr >= 0.01,
        ),
        ("default training < 5 min", f"{ours.train_seconds:.0f} s", ours.train_seconds < 300),
        ("peak training memory < 2 GB", f"{ours.peak_mb:,.0f} MB", ours.peak_mb < 2048),
        (
            "uncached suggestion p99 < 1 ms with a 20k vocabulary",
            f"{lat20['uncached_p99']:.3f} ms (the trained model, {result['vocab'] - 3:,} words: "
            f"{own:.3f} ms)",
            lat20["uncached_p99"] < 1.0,
        ),
        (
            'cold `autocomplete predict "to be or"` < 0.6 s',
            f"{ours.cold_start:.2f} s (`import tensorflow` alone: {tf_import:.2f} s)",
            ours.cold_start < 0.6,
        ),
    ]
    lines = ["| target | measured | met |", "|---|---|---|"]
    return lines + [f"| {what} | {value} | {'yes' if ok else '**no**'} |" for what, value, ok in checks]


def notes(result: dict, tf_import: float) -> list[str]:
    out = []
    for row in result["rows"]:
        if "epochs" in row.extra:
            out.append(
                f"- {row.name}: epochs {row.extra['epochs']}, "
                f"LSTM weight in the mix {row.extra['lstm_weight']:.2f}, "
                f"{row.extra['parameters']:,} parameters; the LSTM predicts "
                f"{row.extra.get('lstm_words', 0) - 3:,} words itself (the rest share its 'other word' "
                "output by their n-gram probabilities; evenly when it runs alone)"
            )
    mff = next(r for r in result["rows"] if r.name.startswith("4."))
    out.append(
        "- most-frequent-follower: its probability is the maximum-likelihood one of the longest context "
        f"seen in training; {mff.extra['zero_share']:.1%} of the test words never followed that context, "
        "so they get "
        "probability 0 and its perplexity is infinite. Its top-k and KSR use its ranking (tier by tier)."
    )
    if "latency_20k" in result:
        lat = result["latency_20k"]
        out.append(
            f"- the default sizes with a {lat['vocab']:,}-word vocabulary (random weights, the same n-gram "
            "counts): "
            f"suggest p50 / p99 uncached {lat['uncached_p50']:.3f} / {lat['uncached_p99']:.3f} ms, "
            f"cached {lat['cached_p50']:.3f} / {lat['cached_p99']:.3f} ms"
        )
        tf = f"{tf_import:.2f} s (median of 3 fresh processes)"
        out.append(f'- `python -c "import tensorflow"`, for scale: {tf}')
    return out


def markdown(
    results: list[dict], info: dict, tf_import: float, command: str, started: str, settings: dict
) -> str:
    first = results[0]
    loads = ", ".join(f"{name} {load:.1f}" for result in results for name, load in result["loads"].items())
    dirty = " plus uncommitted changes in the working tree" if info["dirty"] else ""
    out = [
        "# Benchmark: the shipped model against the course's model and the classic n-gram baselines",
        "",
        f"- command: `{command}`, from the repository root ({settings['minutes']:.0f} min in all)",
        f"- run: {started}; commit `{info['commit']}`{dirty}",
        f"- machine: {info['cpu']}, {info['cores']} cores, {info['memory']} memory; {info['os']}; "
        f"Python {info['python']}, numpy {info['numpy']}, TensorFlow {info['tensorflow']}",
        "- the cores may be shared with other work: 1-minute load average as each training started: "
        f"{loads}; all times are wall-clock",
        "- context: 2 words; top-k and perplexity over the test words in the vocabulary (their unknown share "
        "is given); all four predictors share one vocabulary, built from the train part with the default "
        "`--min-count` and `--max-vocab`",
        "",
        "**Definitions.** Perplexity and top-k accuracy over the sliding windows of the test text "
        "(`autocomplete/metrics.py`, as `autocomplete evaluate`). KSR at K=3: the simulated user of "
        "`autocomplete/evaluate.py`: before each letter of a word (the first included), if the word is among "
        "the 3 suggestions `suggest()` gives for the text typed so far, one keystroke takes it with its "
        "space; KSR = 1 − keystrokes used / (letters + one space per word); words the vocabulary lacks are "
        "typed in full. Latency: one `suggest(text, model, 5)` call while the test text is replayed "
        f"keystroke by keystroke, line by line as typed in the REPL ({first.get('trace_keystrokes', 0):,} "
        f"keystrokes): uncached = the distribution computed on every call ({settings['uncached']:,} "
        f"keystrokes sampled evenly), cached = the predictor's LRU cache on (the first "
        f"{settings['cached']:,}), with one BLAS thread, as `predict` and the REPL run it. "
        f"Cold start: median of {settings['cold_runs']} fresh processes. Training time and peak memory: the "
        "whole `autocomplete "
        "train` process (TensorFlow's import included) under `/usr/bin/time`; for the n-gram baselines, a "
        "process that reads the corpus, fits and saves.",
        "",
    ]
    for result in results:
        out += [
            f"## {result['title']}",
            "",
            f"Train: `{result['train_desc']}`, {result['train_words']:,} words ({result['distinct_words']:,} "
            f"distinct; vocabulary {result['vocab'] - 3:,} words). Test: `{result['test_desc']}`.",
            "",
            *quality_table(result),
            "",
            *cost_table(result, "latency_20k" in result),
            "",
            *notes(result, tf_import),
            "",
        ]
        if "latency_20k" in result:
            out += ["### Targets (issue 4)", "", *targets(result, tf_import), ""]
    return "\n".join(out)


def raw(results: list[dict], info: dict) -> dict:
    """Every figure, machine-readable."""
    out = {"machine": info, "corpora": []}
    for result in results:
        rows = []
        for r in result["rows"]:
            figures = r.evaluation.to_json() if r.evaluation else {}
            rows.append({
                "name": r.name, **figures, "perplexity_note": r.perplexity_note,
                "train_seconds": r.train_seconds, "peak_mb": r.peak_mb, "disk_bytes": r.disk_bytes,
                "latency_ms": r.latency,
                "cold_start_s": r.cold_start, **r.extra,
            })  # fmt: skip
        out["corpora"].append({**{k: v for k, v in result.items() if k != "rows"}, "rows": rows})
    return out


def summary(results: list[dict]) -> str:
    lines = []
    for result in results:
        lines += ["", result["title"], *quality_table(result), *cost_table(result, "latency_20k" in result)]
    return "\n".join(lines)
