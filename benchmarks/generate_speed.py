"""`autocomplete generate`'s speed in words per second, through the real command, start-up excluded.

    AUTOCOMPLETE_HOME=... python benchmarks/generate_speed.py --model notebook   # results/generate_speed.md

Runs `python -m autocomplete generate "the" --words N --seed S > /dev/null` for a short and a long N and
divides the extra words by the extra time (the medians of a few runs each), so the start-up and the model's
loading cancel out. Default sampling (temperature 1, no truncation) and with --top-p 0.9 (which sorts).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHORT, LONG = 100, 10_100


def seconds(model: str, words: int, extra: list[str], seed: int) -> float:
    command = [sys.executable, "-m", "autocomplete", "generate", "the", "--model", model,
               "--words", str(words), "--seed", str(seed), *extra]  # fmt: skip
    started = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - started


def rate(model: str, extra: list[str], runs: int) -> float:
    short = statistics.median(seconds(model, SHORT, extra, s) for s in range(runs))
    long = statistics.median(seconds(model, LONG, extra, s) for s in range(runs))
    return (LONG - SHORT) / (long - short)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, help="a model in $AUTOCOMPLETE_HOME")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--out", default=str(ROOT / "benchmarks/results/generate_speed.md"), help="'-': print"
    )
    args = parser.parse_args()
    load = os.getloadavg()[0]
    rows = [(label, rate(args.model, extra, args.runs)) for label, extra in
            (("default (temperature 1)", []), ("--top-p 0.9", ["--top-p", "0.9"]))]  # fmt: skip
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()  # fmt: skip
    text = "\n".join([
        "# Text generation speed", "",
        f"- machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        f"- commit: {commit}; load average (1 min) at the start / end: {load:.2f} / {os.getloadavg()[0]:.2f}",
        f"- command: `python benchmarks/generate_speed.py --model {args.model} --runs {args.runs}`: "
        f"`autocomplete generate \"the\" --words N`, N = {SHORT} and {LONG}, medians of {args.runs} runs",
        "", "| sampling | words/s |", "| --- | ---: |",
        *(f"| {label} | {r:,.0f} |" for label, r in rows), "",
    ])  # fmt: skip
    if args.out != "-":
        Path(args.out).write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
