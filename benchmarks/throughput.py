"""Training throughput: words·epochs per second of `model.fit` on the Shakespeare train split, fed as today
(in-memory numpy windows) and through `autocomplete.pipeline`, and the candidates for more speed: a larger
batch with the learning rate scaled, XLA (`jit_compile=True`), `steps_per_execution`, a sampled softmax,
TensorFlow's thread pools (TF_NUM_INTEROP_THREADS, TF_NUM_INTRAOP_THREADS) and oneDNN (TF_ENABLE_ONEDNN_OPTS).

    python benchmarks/throughput.py --repeat 3               # every variant, interleaved, 3 runs each
    python benchmarks/throughput.py --repeat 1 --append      # one more round, added to the raw figures
    python benchmarks/throughput.py --report                 # results/throughput.md from the raw figures
    python benchmarks/throughput.py --name sampled_softmax --only "numpy arrays (today)" "sampled 512"
                                    # some variants, into results/sampled_softmax.jsonl and .md

Each run is a fresh process: build the default model (config.py), compile, fit 2 epochs on the training
windows (the validation tail left out, as `train` does) with a per-batch callback that reads the loss, as
train.py's progress reporting does; the figure is the second epoch (the first also traces the step
function), in training windows (= words) per second. Speed only: a changed default must also be checked on
validation quality. Raw figures: results/throughput.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

CORPUS = Path(os.environ.get("SHAKESPEARE", ROOT.parent / "shared/corpora/tinyshakespeare.txt"))
TRAIN_LINES = 36000
RESULTS = HERE / "results"

# name -> (input, batch multiple of the default, jit_compile, steps_per_execution, softmax_samples)
VARIANTS = {
    "numpy arrays (today)": ("numpy", 1, False, 1, 0),
    "tf.data pipeline": ("pipeline", 1, False, 1, 0),
    "pipeline, batch 1024, lr x2": ("pipeline", 2, False, 1, 0),
    "pipeline, batch 2048, lr x4": ("pipeline", 4, False, 1, 0),
    "pipeline, jit_compile": ("pipeline", 1, True, 1, 0),
    "pipeline, steps_per_execution 16": ("pipeline", 1, False, 16, 0),
    "pipeline, batch 2048, jit, spe 16": ("pipeline", 4, True, 16, 0),
    "sampled 256": ("numpy", 1, False, 1, 256),
    "sampled 512": ("numpy", 1, False, 1, 512),
    "sampled 1024": ("numpy", 1, False, 1, 1024),
    "sampled 256, batch 1024, lr x2": ("numpy", 2, False, 1, 256),
    "sampled 256, batch 2048, lr x4": ("numpy", 4, False, 1, 256),
    "inter-op threads 1": ("numpy", 1, False, 1, 0),
    "inter-op 1, intra-op 2": ("numpy", 1, False, 1, 0),
    "intra-op threads 1": ("numpy", 1, False, 1, 0),
    "oneDNN off": ("numpy", 1, False, 1, 0),
}
# TensorFlow's thread pools and oneDNN, set in the run's environment (read once, when TensorFlow starts)
VARIANT_ENV = {
    "inter-op threads 1": {"TF_NUM_INTEROP_THREADS": "1"},
    "inter-op 1, intra-op 2": {"TF_NUM_INTEROP_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "2"},
    "intra-op threads 1": {"TF_NUM_INTRAOP_THREADS": "1"},
    "oneDNN off": {"TF_ENABLE_ONEDNN_OPTS": "0"},
}


def one_run(name: str) -> dict:
    """Train the variant for 2 epochs in this process; the seconds of each epoch."""
    from autocomplete.config import TrainConfig
    from autocomplete.dataset import beyond_as_unknown, lstm_vocab_size, prepare, validation_size, windows
    from autocomplete.model import build_model, import_keras
    from autocomplete.pipeline import windows_dataset

    source, multiple, jit, spe, samples = VARIANTS[name]
    config = TrainConfig(softmax_samples=samples)
    with tempfile.TemporaryDirectory() as folder:
        split = Path(folder) / "train.txt"
        with CORPUS.open(encoding="utf-8") as lines:
            split.write_text("".join(line for _, line in zip(range(TRAIN_LINES), lines, strict=False)))
        corpus = prepare([split], config)
    f = lstm_vocab_size(corpus, config)
    n_windows = len(corpus.ids) - config.context
    n_train = n_windows - validation_size(n_windows, config.val_split)
    batch, rate = config.batch_size * multiple, config.learning_rate * multiple
    keras = import_keras()
    keras.utils.set_random_seed(config.seed)
    model = build_model(f, config)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=rate), loss="sparse_categorical_crossentropy",
                  jit_compile=jit, steps_per_execution=spe)  # fmt: skip
    times: list[float] = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            float((logs or {}).get("loss", 0.0))  # as the progress bar reads it

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.started)

    if source == "numpy":
        contexts, targets = windows(corpus.ids, config.context)
        x = beyond_as_unknown(contexts, f)[:n_train]
        y = beyond_as_unknown(targets, f)[:n_train]
        model.fit(x, y, batch_size=batch, epochs=2, shuffle=True, verbose=0, callbacks=[Timer()])
    else:
        data = windows_dataset(
            corpus.ids, config.context, 0, n_train + config.context, batch, 0, lstm_vocab=f
        )
        model.fit(data, epochs=2, verbose=0, shuffle=False, callbacks=[Timer()])
    return {"variant": name, "windows": n_train, "words": corpus.words, "epoch_seconds": times}


def load() -> float:
    return os.getloadavg()[0]


def run_all(repeat: int, append: bool, names: list[str], name: str) -> None:
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()  # fmt: skip
    rows = []
    for round_ in range(repeat):
        for variant in names:  # interleaved, so a change of load hits every variant alike
            before = load()
            env = {**os.environ, **VARIANT_ENV.get(variant, {})}
            out = subprocess.run([sys.executable, __file__, "--one", variant], capture_output=True, text=True,
                                 check=True, env=env).stdout  # fmt: skip
            row = json.loads(out.strip().splitlines()[-1])
            row.update(load_before=before, load_after=load(), commit=commit, round=round_,
                       date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))  # fmt: skip
            rows.append(row)
            print(f"{variant}: {row['windows'] / row['epoch_seconds'][1]:,.0f} words/s", flush=True)
    with (RESULTS / f"{name}.jsonl").open("a" if append else "w", encoding="utf-8") as file:
        file.writelines(json.dumps(row) + "\n" for row in rows)
    report(name)


def report(name: str) -> None:
    raw, out = RESULTS / f"{name}.jsonl", RESULTS / f"{name}.md"
    rows = [json.loads(line) for line in raw.read_text(encoding="utf-8").splitlines()]
    base = None
    lines = [
        "# Training throughput (model.fit, one epoch)",
        "",
        f"- machine: {cpu_name()}, {os.cpu_count()} cores, Linux "
        f"{platform.release()}, Python {platform.python_version()}; shared with other sessions' work: the "
        "1-minute load average before and after each run is in the table",
        f"- commit: {', '.join(sorted({r['commit'] for r in rows}))}; "
        f"dates: {rows[0]['date']} to {rows[-1]['date']}",
        f"- command: `python benchmarks/throughput.py {command(name, rows)}` "
        f"(raw figures: `results/{raw.name}`)",
        f"- corpus: the Shakespeare train split (first {TRAIN_LINES} lines), {rows[0]['words']:,} words; "
        f"{rows[0]['windows']:,} training windows (the 5% validation tail left out, as `train` does)",
        "- model: the defaults of config.py (context 2, embedding 64, LSTM 128, hidden 64, tied, "
        "dropout 0.2, Adam); each run a fresh process; the figure is the 2nd epoch of `fit` (the 1st "
        "also traces), in training words per second; the median of the runs",
        "",
        "| variant | runs | words·epochs/s (median) | × today | 1st epoch s (median) "
        "| 2nd epoch s (all runs) | load |",
        "| --- | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for variant in VARIANTS:
        mine = [r for r in rows if r["variant"] == variant]
        if not mine:
            continue
        speeds = [r["windows"] / r["epoch_seconds"][1] for r in mine]
        median = statistics.median(speeds)
        base = base or median
        first = statistics.median(r["epoch_seconds"][0] for r in mine)
        seconds = ", ".join(f"{r['epoch_seconds'][1]:.1f}" for r in mine)
        loads = ", ".join(f"{r['load_before']:.1f}→{r['load_after']:.1f}" for r in mine)
        figures = f"{median:,.0f} | {median / base:.2f} | {first:.1f} | {seconds} | {loads}"
        lines.append(f"| {variant} | {len(mine)} | {figures} |")
    kept = out.read_text(encoding="utf-8").partition(READING)[2] if out.exists() else ""
    text = "\n".join(lines) + "\n"
    out.write_text(text + (f"\n{READING}{kept}" if kept else ""), encoding="utf-8")


def command(name: str, rows: list[dict]) -> str:
    """The options that run as many rounds of the variants as `rows` holds (appended rounds included)."""
    runs = Counter(r["variant"] for r in rows)
    variants = " ".join(f'"{v}"' for v in VARIANTS if v in runs)
    return f"--repeat {max(runs.values())} --name {name} --only {variants}"


READING = "## Reading"  # the hand-written part of the report, kept when the table is written again


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            names = [line.split(":", 1)[1].strip() for line in info if line.startswith("model name")]
    except OSError:
        names = []
    return names[0] if names else platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--one", choices=VARIANTS, help="one run of one variant, in this process")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--append", action="store_true")
    parser.add_argument("--report", action="store_true")
    parser.add_argument("--name", default="throughput", help="results/NAME.jsonl and .md")
    parser.add_argument("--only", nargs="+", choices=VARIANTS, help="these variants (default: all)")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_run(args.one)))
    elif args.report:
        report(args.name)
    else:
        run_all(args.repeat, args.append, args.only or list(VARIANTS), args.name)


if __name__ == "__main__":
    main()
