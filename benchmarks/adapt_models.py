"""Train the models the adaptation benchmark (issue 15) measures: three corpora x three seeds x four variants.

    python benchmarks/adapt_models.py --work /tmp/adapt-bench     # resumable: a trained model is kept

For each benchmark corpus its standard train part (../shared/corpora/README.md) is written to WORK/splits/
(with its test part, which only benchmarks/adapt_bench.py reads), and `autocomplete train` runs on it in a
subprocess of its own under /usr/bin/time, into the store WORK/home, for seeds 0, 1, 2 and the variants
default (every default), tiny (`--preset tiny`), ctx3 (`--context 3`) and ctx5 (`--context 5`). Each
training's wall time, peak memory and the load average when it started go to WORK/trainings.jsonl.
Nothing is written into the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CORPORA = next((p / "shared" / "corpora" for p in (ROOT.parent, ROOT.parent.parent)
                if (p / "shared" / "corpora").is_dir()), ROOT.parent / "shared" / "corpora")  # fmt: skip
AUTOCOMPLETE = Path(sys.executable).parent / "autocomplete"
FILES = {"shakespeare": "tinyshakespeare.txt", "sherlock": "sherlock.txt", "git-log": "git-log.txt"}
# The standard splits: (train lines, test lines) of the file's lines.
SPLITS = {
    "shakespeare": (lambda lines: lines[:36000], lambda lines: lines[36000:]),
    "sherlock": (lambda lines: lines[:4221], lambda lines: lines[4221:]),
    "git-log": (lambda lines: lines[-40000:-4000], lambda lines: lines[-4000:]),
}
VARIANTS = {
    "default": [],
    "tiny": ["--preset", "tiny"],
    "ctx3": ["--context", "3"],
    "ctx5": ["--context", "5"],
}
SEEDS = (0, 1, 2)


def write_splits(work: Path) -> dict[str, tuple[Path, Path]]:
    """WORK/splits/CORPUS.{train,test}.txt, byte for byte the lines `head`/`tail` would give."""
    folder = work / "splits"
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for corpus, name in FILES.items():
        lines = (CORPORA / name).read_bytes().splitlines(keepends=True)
        train_lines, test_lines = (split(lines) for split in SPLITS[corpus])
        paths[corpus] = (folder / f"{corpus}.train.txt", folder / f"{corpus}.test.txt")
        for path, part in zip(paths[corpus], (train_lines, test_lines), strict=True):
            if not path.exists():
                path.write_bytes(b"".join(part))
    return paths


def model_name(corpus: str, variant: str, seed: int) -> str:
    return f"{corpus}-{variant}-s{seed}"


def train(work: Path, corpus: str, train_path: Path, variant: str, seed: int) -> dict | None:
    """One training into WORK/home unless that model exists: its record, or None when skipped."""
    name = model_name(corpus, variant, seed)
    home = work / "home"
    if (home / "models" / name).exists():
        return None
    env = {**os.environ, "AUTOCOMPLETE_HOME": str(home), "COLUMNS": "120"}
    command = [str(AUTOCOMPLETE), "train", str(train_path), "--name", name, "--seed", str(seed)]
    command += VARIANTS[variant]
    load = os.getloadavg()[0]
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        done = subprocess.run(["/usr/bin/time", "-o", report.name, "-f", "%e %M", *command],
                              capture_output=True, text=True, env=env)  # fmt: skip
        if done.returncode:
            sys.exit(f"failed: {' '.join(command)}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
        wall, rss_kb = report.read().split()[-2:]
    return {"name": name, "corpus": corpus, "variant": variant, "seed": seed, "seconds": float(wall),
            "peak_mb": float(rss_kb) / 1024, "load": load,
            "date": time.strftime("%Y-%m-%d %H:%M %Z")}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--variant", choices=list(VARIANTS), action="append")
    parser.add_argument("--corpus", choices=list(FILES), action="append")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    args = parser.parse_args()
    paths = write_splits(args.work)
    log = args.work / "trainings.jsonl"
    # Seeds outermost per variant, so a partial run has every corpus at seed 0 first.
    for variant in args.variant or list(VARIANTS):
        for seed in args.seeds:
            for corpus in args.corpus or list(FILES):
                record = train(args.work, corpus, paths[corpus][0], variant, seed)
                if record:
                    with log.open("a", encoding="utf-8") as f:
                        f.write(json.dumps(record) + "\n")
                    seconds, peak = record["seconds"], record["peak_mb"]
                    print(f"{record['name']}: {seconds:.0f} s, {peak:.0f} MB", flush=True)


if __name__ == "__main__":
    main()
