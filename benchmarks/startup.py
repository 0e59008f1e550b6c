"""Start-up, side by side with an earlier commit: the REPL's time to prompt and a cold `predict`.

    python benchmarks/startup.py                     # against HEAD~1; writes results/startup.md
    python benchmarks/startup.py --base e528feb --runs 11 --out -

The earlier commit is exported with `git archive` into a temporary folder and run from there with
PYTHONPATH (nothing is installed); this worktree, uncommitted changes included, is the other side. Both run
the same model (`tests/conftest.write_model`, random weights), each side's written by its own code (in its
own folder format) into a temporary AUTOCOMPLETE_HOME of its own, with the same Python, in turns (base,
current, then current, base, ...) so that the machine's load falls on both.
- time to prompt: `python -m autocomplete repl --model m` in a pseudo-terminal (pexpect; cursor-position
  requests answered as a terminal would), from the spawn until the prompt `m> ` is on the screen;
- cold predict: `python -m autocomplete predict 'the ca' --model m`, from the spawn to its exit.
Wall time is what a user waits; on a loaded machine it mostly measures the load, so the CPU time (user +
system) of each process is reported too (for the REPL: to the prompt and then its exit on Ctrl-D).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

import pexpect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from report import machine  # noqa: E402

CSI = re.compile(r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[()][0-9A-B]|\x1b[=>]|\x1b\][^\x07]*\x07")
PREDICT = ["predict", "the ca", "--model", "m"]  # as the report says
REPL = ["repl", "--model", "m"]


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


def export(commit: str, folder: Path) -> None:
    """The commit's files in `folder` (`git archive`: no worktree, no checkout of this repository)."""
    data = subprocess.run(["git", "archive", commit], cwd=ROOT, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(folder, filter="data")


def environment(code: Path, home: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(code), "AUTOCOMPLETE_HOME": str(home), "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    return env


def write_model(code: Path, env: dict[str, str]) -> None:
    """The same random model written by each side's own code (its own folder format) into its home."""
    tests = str(code / "tests")
    program = f"import sys; sys.path.insert(0, {tests!r}); import conftest; conftest.write_model('m')"
    Path(env["AUTOCOMPLETE_HOME"]).mkdir()
    subprocess.run([sys.executable, "-c", program], env=env, cwd=code, check=True, capture_output=True)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_to_prompt(env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall seconds from spawning the REPL until its prompt is drawn, CPU seconds of the process, which
    then quits on Ctrl-D)."""
    cpu, start = children_cpu(), time.perf_counter()
    child = pexpect.spawn(
        sys.executable, ["-m", "autocomplete", *REPL], env=env, cwd=str(cwd), dimensions=(30, 100),
        encoding="utf-8",
    )  # fmt: skip
    raw = ""
    try:
        while "m> " not in CSI.sub("", raw):
            chunk = child.read_nonblocking(65536, timeout=30)
            raw += chunk
            for _ in range(chunk.count("\x1b[6n")):  # "where is the cursor?": at the top
                child.send("\x1b[1;1R")
        seconds = time.perf_counter() - start
        child.send("\x04")
        child.expect(pexpect.EOF, timeout=30)
    finally:
        child.close(force=True)  # waits for it: its CPU time is counted once it is reaped
    return seconds, children_cpu() - cpu


def cold_predict(env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one `predict`."""
    cpu, start = children_cpu(), time.perf_counter()
    subprocess.run([sys.executable, "-m", "autocomplete", *PREDICT], env=env, cwd=cwd, check=True,
                   capture_output=True)  # fmt: skip
    return time.perf_counter() - start, children_cpu() - cpu


def measure(sides: dict[str, dict[str, str]], runs: int, cwd: Path) -> dict[str, dict[str, list]]:
    """{side: {"repl": [(wall, cpu), ...], "predict": [...]}}, the sides taken in turns, the order
    flipped every round."""
    times = {side: {"repl": [], "predict": []} for side in sides}
    names = list(sides)
    for round_ in range(runs):
        for side in names if round_ % 2 == 0 else names[::-1]:
            times[side]["repl"].append(time_to_prompt(sides[side], cwd))
            times[side]["predict"].append(cold_predict(sides[side], cwd))
    return times


def bytecode() -> str:
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        return "none (PYTHONDONTWRITEBYTECODE is set): each start compiles the package, on both sides"
    return "cached by Python after each side's first run"


def report(times, base: str, current: str, runs: int, load: tuple[float, float]) -> str:
    m = machine()
    lines = [
        "# Start-up: the REPL's time to prompt and a cold `predict`, side by side (issue 17)",
        "",
        f"- machine: {m['cpu']}, {m['cores']} cores (shared with other work), {m['memory']} memory, "
        f"{m['os']}, Python {m['python']}",
        f"- load average (1 min): {load[0]:.2f} before, {load[1]:.2f} after",
        f"- base: {base} (`git archive`, run with PYTHONPATH); current: {current}",
        f"- bytecode: {bytecode()}",
        "- model: `tests/conftest.write_model(\"m\")` (the same random weights), written by each side's own "
        "code (its own folder format) into a temporary AUTOCOMPLETE_HOME of its own",
        f"- {runs} runs of each, in turns; time to prompt: `python -m autocomplete {' '.join(REPL)}` in a "
        "pseudo-terminal until `m> ` is drawn; cold predict: `python -m autocomplete predict 'the ca' "
        "--model m` to its exit",
        "- command: `python benchmarks/startup.py " + " ".join(sys.argv[1:]) + "`",
        "",
        "| measure | base median (ms) | current median (ms) | current − base | base min–max "
        "| current min–max |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for what, label in (("repl", "REPL time to prompt"), ("predict", "cold `predict`")):
        for index, kind in ((0, "wall"), (1, "CPU")):
            b, c = (sorted(1000 * s[index] for s in times[side][what]) for side in ("base", "current"))
            mb, mc = statistics.median(b), statistics.median(c)
            spread = f"{b[0]:.0f}–{b[-1]:.0f} | {c[0]:.0f}–{c[-1]:.0f}"
            lines.append(f"| {label}, {kind} | {mb:.0f} | {mc:.0f} | {mc - mb:+.0f} | {spread} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="HEAD~1", help="the commit to compare with (default HEAD~1)")
    parser.add_argument("--runs", type=int, default=9, help="runs of each measure on each side (>= 7)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "startup.md"), help="-: print")
    args = parser.parse_args()
    if args.runs < 7:
        parser.error("--runs must be at least 7")
    base = git("rev-parse", "--short", args.base)
    dirty = " (with uncommitted changes)" if git("status", "--porcelain") else ""
    current = git("rev-parse", "--short", "HEAD") + dirty
    with tempfile.TemporaryDirectory(prefix="startup-") as tmp:
        tmp = Path(tmp)
        export(base, tmp / "base")
        sides = {"base": environment(tmp / "base", tmp / "home-base"),
                 "current": environment(ROOT, tmp / "home-current")}  # fmt: skip
        for side, code in (("base", tmp / "base"), ("current", ROOT)):
            write_model(code, sides[side])
        load_before = os.getloadavg()[0]
        times = measure(sides, args.runs, tmp)
        text = report(times, base, current, args.runs, (load_before, os.getloadavg()[0]))
    if args.out != "-":
        Path(args.out).write_text(text, encoding="utf-8")
    print(text, end="")


if __name__ == "__main__":
    main()
