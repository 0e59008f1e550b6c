"""results/growth.md and growth.json from the records of benchmarks/growth.py (one per git-log prefix)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from autocomplete.config import TrainConfig

ORDER = ["1", "4", "16", "all"]
MIB = 2**20


def phases(events: list) -> dict[str, float]:
    """Seconds spent reading, in the first training's epochs, mixing (the n-grams and the adaptation's
    tuning included), refitting and saving, from the recorder's (time, event, ...) list."""
    at = {}
    for t, kind, *rest in events:
        if kind == "phase":
            at.setdefault(rest[0].split(" ")[0], t)
    end = events[-1][0]
    mixing, saving = at.get("Mixing", end), at.get("Saving", end)
    refit = next((t for t, kind, *rest in events if kind == "phase" and "more epoch" in rest[0]), saving)
    reading = at.get("Counting", at.get("Loading", 0.0))  # the held-out n-gram's phase, where announced
    return {"reading": reading, "epochs": mixing - reading,
            "mixing": refit - mixing, "refit": saving - refit, "saving": end - saving}  # fmt: skip


def epoch_seconds(events: list) -> list[float]:
    """The first training's epochs, each from the end of the one before (the first from `start`)."""
    starts = [i for i, e in enumerate(events) if e[1] == "start"]
    first = events[starts[0] :] if starts else []
    stop = next((i for i, e in enumerate(first) if e[1] == "phase"), len(first))
    times = [e[0] for e in first[:stop] if e[1] in ("start", "epoch")]
    return [b - a for a, b in zip(times, times[1:], strict=False)]


def row(r: dict) -> dict:
    seconds = epoch_seconds(r["events"])
    later = seconds[1:] or seconds  # the first epoch also traces the graph
    per_epoch = statistics.median(later)
    train_words = min(r["words"] * 0.95, TrainConfig().epoch_words)  # an epoch's words: sampled above that
    return {
        "label": r["label"], "mb": r["bytes"] / 1e6, "words": r["words"], "vocab": r["vocab"],
        "lstm_vocab": r["lstm_vocab"], "epochs": r["epochs_run"], "best": r["best_epoch"],
        "refit": r["refit_epochs"], "epoch_s": per_epoch, "first_epoch_s": seconds[0] if seconds else None,
        "epoch_words": train_words, "words_per_s": train_words / per_epoch, "total_s": r["seconds"],
        "phases": phases(r["events"]),
        "peak_mib": r["peak_mib"], "saved_mb": r["saved_bytes"] / 1e6, "ngram_mb": r["ngram_bytes"] / 1e6,
        "ngram_mib": r["ngram_bytes"] / MIB, "cold_s": statistics.median(r["cold_predict_s"]),
        "cold_all": r["cold_predict_s"], "p50_ms": r["suggestion"]["p50_ms"],
        "p99_ms": r["suggestion"]["p99_ms"],
        "load": (r["load_before"], r["load_after"]), "date": r["date"], "commit": r["commit"],
        "machine": r["machine"], "validation": r.get("validation"),
    }  # fmt: skip


def name(r: dict) -> str:
    return "whole file" if r["label"] == "all" else f"{r['label']} MB"


def machines(rows: list[dict]) -> str:
    """The machine, or with rows measured on several, each with the rows measured on it."""
    kinds = list(dict.fromkeys(r["machine"] for r in rows))
    if len(kinds) == 1:
        return kinds[0]
    return "; ".join(f"{', '.join(name(r) for r in rows if r['machine'] == m)}: {m}" for m in kinds)


def markdown(rows: list[dict]) -> str:
    base = rows[0] if rows and rows[0]["label"] == "1" else None
    out = [
        "# Growth curve of a default training (issue 16)",
        "",
        f"- machine: {machines(rows)}; shared with other work: the 1-minute load average before each "
        "training and after its measurements is in the last column",
        f"- commit: {', '.join(sorted({r['commit'] for r in rows}))}; dates: "
        f"{min(r['date'] for r in rows)} to {max(r['date'] for r in rows)}",
        "- command: `python benchmarks/growth.py run --work W`, then `... report --work W`",
        "- corpus: the first 1, 4, 16 MB of `../shared/corpora/git-log.txt` (cut at a line end) and the "
        "whole file; every training with all of `train`'s defaults (`train.train(paths, TrainConfig())`)",
        "",
        "## Time",
        "",
        "Time per epoch is the median of the first training's epochs after the first (which also traces "
        "the graph), the per-epoch validation included; words/s is an epoch's words over it: the "
        f"training part (95%), or a random {TrainConfig().epoch_words:,} of its words when it has more "
        "(`--epoch-words`). "
        "Phases: reading (two passes and encoding), the first training's epochs (from the end of "
        "reading: the held-out n-gram and TensorFlow's import included), mixing (the mix weight's "
        "scores, the adaptation's tuning, the final n-gram), the refit epochs, saving.",
        "",
        "| prefix | words | epochs (best) + refit | s / epoch | words/s | s / epoch per M epoch words "
        "| reading | epochs | mixing | refit | saving | total | load |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        p = r["phases"]
        out.append(
            f"| {name(r)} ({r['mb']:.1f}) | {r['words']:,} | "
            f"{r['epochs']} ({r['best']}) + {r['refit']} | "
            f"{r['epoch_s']:.1f} | {r['words_per_s']:,.0f} | {r['epoch_s'] / r['epoch_words'] * 1e6:.1f} | "
            f"{p['reading']:.0f} s | {p['epochs']:.0f} s | {p['mixing']:.0f} s | {p['refit']:.0f} s | "
            f"{p['saving']:.0f} s | {r['total_s'] / 60:.1f} min | {r['load'][0]:.1f} → {r['load'][1]:.1f} |"
        )
    out += [
        "",
        "## Memory and the saved model",
        "",
        "Peak: the training process's peak RSS (getrusage). The bound of issue 16: 1.5 × the peak at the "
        "1 MB prefix plus the saved n-gram arrays. Cold predict: `autocomplete predict 'fix the'` in a "
        "fresh process with the model's files evicted from the page cache, the median of 5. Suggestion: "
        "uncached `suggest()` (the predictor's cache cleared before each call), one BLAS thread, over "
        "prefixes of the file's last lines.",
        "",
        "| prefix | vocabulary (LSTM's) | peak RSS | bound | saved | n-gram arrays | cold predict | "
        "suggestion p50 / p99 |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        bound = f"{1.5 * base['peak_mib'] + r['ngram_mib']:.0f} MiB" if base else "—"
        out.append(
            f"| {name(r)} | {r['vocab']:,} ({r['lstm_vocab']:,}) | {r['peak_mib']:.0f} MiB | {bound} | "
            f"{r['saved_mb']:.1f} MB | {r['ngram_mb']:.1f} MB | {r['cold_s'] * 1000:.0f} ms | "
            f"{r['p50_ms']:.2f} / {r['p99_ms']:.2f} ms |"
        )
    return "\n".join(out) + "\n"


def write(records: dict[str, dict], results: Path) -> None:
    """The rows of `records`, and those already in growth.json for sizes they do not measure again (the raw
    records live in the work folder, outside the repository, and may be gone)."""
    data = results / "growth.json"
    kept = {r["label"]: r for r in json.loads(data.read_text())} if data.exists() else {}
    kept.update({label: row(record) for label, record in records.items()})
    rows = [kept[label] for label in ORDER if label in kept]
    data.write_text(json.dumps(rows, indent=1) + "\n")
    text = markdown(rows)
    path = results / "growth.md"
    old = path.read_text() if path.exists() else ""
    reading = old.split("\n## Reading\n", 1)[1] if "\n## Reading\n" in old else ""  # kept: written by hand
    path.write_text(text + ("\n## Reading\n" + reading if reading else ""))
