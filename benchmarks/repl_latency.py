"""REPL responsiveness: our code's work per keystroke, and the time from `autocomplete repl` to a prompt.

    python benchmarks/repl_latency.py     # ~1 min on 2 cores; writes benchmarks/results/repl_latency.md
    python benchmarks/repl_latency.py --lines 40 --starts 3

The model has a 20k-word vocabulary (V = 20,003 with the markers) and the default sizes (embedding 64,
LSTM 128, hidden 128), with random weights, mixed 50/50 with a Kneser-Ney trigram fitted on 400k random
(Zipf-distributed) ids: the same arithmetic and the same lookups as a trained model of that size. Its
vocabulary is the bundled corpus's words, topped up with made-up words, so the typed text is mostly known.

Per keystroke: the typing trace is the bundled corpus, typed line by line, one character at a time, into
the same code the REPL runs, with the predictor's LRU cache kept between keystrokes as in the REPL:
- worker: `live.compute_frame` (tokenize, distribution from the cache or the model, prefix filter and
  top-K, and the ghost text), then the panel rendered to ANSI (`PanelRenderer`), as the worker thread does;
- UI thread: what runs on the keystroke itself (the ghost kept by `Ghost.follow`, the toolbar's lookup).
With one OpenBLAS thread, as the REPL sets it (autocomplete/blas.py); one forward pass is also timed
with numpy's default threads, for comparison. "cold" clears the predictor's cache before every keystroke:
every keystroke pays a forward pass.

Start-up: `autocomplete repl --model bench20k` in a real pseudo-terminal (pexpect), timed from the spawn to
the prompt drawn, and to a typed character echoed (a prompt accepting input); and whether TensorFlow got
imported (python -X importtime).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autocomplete import bundled, modelfile, store  # noqa: E402
from autocomplete.blas import use_one_blas_thread  # noqa: E402
from autocomplete.config import TrainConfig  # noqa: E402
from autocomplete.inference import LstmWeights, Predictor  # noqa: E402
from autocomplete.ngram import KneserNey  # noqa: E402
from autocomplete.repl.live import compute_frame  # noqa: E402
from autocomplete.repl.panel import PanelRenderer, Status  # noqa: E402
from autocomplete.repl.state import ReplState  # noqa: E402
from autocomplete.suggest import suggest  # noqa: E402
from autocomplete.text import MARKERS, split_typed, tokenize  # noqa: E402
from autocomplete.vocab import Vocabulary  # noqa: E402

V_WORDS = 20000
EMBEDDING, UNITS, HIDDEN = 64, 128, 128
MODEL_NAME = "bench20k"


def vocabulary(rng: np.random.Generator) -> Vocabulary:
    """The bundled corpus's words by frequency, then made-up words of 2-4 syllables, to 20,000 words."""
    counts: dict[str, int] = {}
    for token in tokenize(bundled.default_corpus().read_text(encoding="utf-8")):
        if token not in MARKERS:
            counts[token] = counts.get(token, 0) + 1
    words = sorted(counts, key=lambda w: (-counts[w], w))[:V_WORDS]
    seen = set(words)
    syllables = [c + v for c in "bcdfghklmnprstvwz" for v in "aeiou"] + ["th", "st", "er", "an", "ing"]
    while len(words) < V_WORDS:
        word = "".join(rng.choice(syllables, size=int(rng.integers(2, 5))))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return Vocabulary(MARKERS + tuple(words))


def random_model(seed: int = 0) -> tuple[Vocabulary, LstmWeights, KneserNey]:
    rng = np.random.default_rng(seed)
    vocab = vocabulary(rng)
    v = len(vocab)

    def normal(*shape, scale=0.1):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    lstm = LstmWeights(
        normal(v, EMBEDDING), normal(EMBEDDING, 4 * UNITS), normal(UNITS, 4 * UNITS), normal(4 * UNITS),
        normal(UNITS, HIDDEN), normal(HIDDEN), normal(HIDDEN, v), normal(v),
    )  # fmt: skip
    ids = np.minimum(rng.zipf(1.2, size=400_000) + 2, v - 1)  # ids 3.. in a Zipf law, like word frequencies
    return vocab, lstm, KneserNey.fit(ids, v, 3)


def save_model(vocab: Vocabulary, lstm: LstmWeights, ngram: KneserNey) -> None:
    """Into the store at $AUTOCOMPLETE_HOME as training would (no model.keras: the REPL never reads it)."""
    config = TrainConfig(embedding_dim=EMBEDDING, units=UNITS, hidden=HIDDEN)
    with store.writing(MODEL_NAME, force=True) as folder:
        modelfile.save(folder, Predictor(vocab, config.context, lstm, ngram, 0.5), config, corpus=[])


def typing_trace(lines: int) -> list[str]:
    """Every text-before-cursor of typing the first `lines` non-blank lines of the bundled corpus."""
    texts = []
    source = [
        ln.strip() for ln in bundled.default_corpus().read_text(encoding="utf-8").splitlines() if ln.strip()
    ]
    for line in source[:lines]:
        line = line[:100]  # a REPL line, not a paragraph
        texts += [line[:i] for i in range(len(line) + 1)]
    return texts


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    return {
        "p50": statistics.median(ordered),
        "p99": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
        "max": ordered[-1],
    }


def keystroke_latency(
    predictor: Predictor, trace: list[str], cold: bool, state: ReplState | None = None
) -> dict[str, list[float]]:
    """Milliseconds per keystroke of each step. With `state` (an adapted one), each finished line of the
    trace is accepted as the REPL's loop does (into the cache and the session's memory), timed as "accept"."""
    state = state or ReplState(MODEL_NAME, predictor, top_k=5)
    renderer = PanelRenderer(color=True)
    status = Status(MODEL_NAME, 5)
    times: dict[str, list[float]] = {k: [] for k in ("tokenize", "distribution", "suggest", "frame", "panel",
                                                     "worker", "worker_cpu", "ui", "accept",
                                                     "accept_cpu")}  # fmt: skip
    previous = None
    predictor.clear_cache()
    clock, cpu = time.perf_counter, time.thread_time
    for n, text in enumerate(trace):
        if cold:
            predictor.clear_cache()
        # The parts, measured apart (each on its own, so the distribution is looked up as the REPL would).
        t0 = clock()
        tokens, _ = split_typed(text)
        t1 = clock()
        context = tokens[-predictor.context_size :]
        predictor.next_word_probs([predictor.vocab.id(t) for t in context])
        t2 = clock()
        suggest(text, predictor, 5)
        t3 = clock()
        times["tokenize"].append((t1 - t0) * 1e3)
        times["distribution"].append((t2 - t1) * 1e3)
        times["suggest"].append((t3 - t2) * 1e3)
        if cold:
            predictor.clear_cache()
        # What the worker thread does for one keystroke, end to end (and its CPU time: no waits for a core).
        c0, t0 = cpu(), clock()
        frame = compute_frame(text, state)
        t1 = clock()
        word = frame.ghost.panel_word(frame.answer) if frame.ghost is not None else None
        renderer(frame, status, 100, 5, word)
        t2, c2 = clock(), cpu()
        # What the UI thread does: follow the ghost, then the toolbar's lookup of the panel just rendered.
        kept = previous.follow(text) if previous is not None else None
        renderer(frame, status, 100, 5, word)
        t3 = clock()
        previous = kept or frame.ghost
        times["frame"].append((t1 - t0) * 1e3)
        times["panel"].append((t2 - t1) * 1e3)
        times["worker"].append((t2 - t0) * 1e3)
        times["worker_cpu"].append((c2 - c0) * 1e3)
        times["ui"].append((t3 - t2) * 1e3)
        if state.adaptation is not None and text and (n + 1 == len(trace) or not trace[n + 1]):
            c0, t0 = cpu(), clock()
            state.accept(text)
            times["accept"].append((clock() - t0) * 1e3)
            times["accept_cpu"].append((cpu() - c0) * 1e3)
    return times


def forward_passes(predictor: Predictor, trace: list[str], limit: int = 400) -> list[float]:
    """Milliseconds per uncached distribution for the trace's distinct contexts."""
    contexts = []
    for text in trace:
        tokens, _ = split_typed(text)
        contexts.append(tuple(predictor.vocab.id(t) for t in tokens[-predictor.context_size :]))
    times = []
    for context in list(dict.fromkeys(contexts))[:limit]:
        started = time.perf_counter()
        predictor.uncached_probs(context)
        times.append((time.perf_counter() - started) * 1e3)
    return times


def spawn_repl(home: Path):
    import pexpect

    env = {**os.environ, "AUTOCOMPLETE_HOME": str(home), "TERM": "xterm-256color"}
    command = str(Path(sys.executable).with_name("autocomplete"))
    return pexpect.spawn(
        command, ["repl", "--model", MODEL_NAME], env=env, dimensions=(30, 100), encoding="utf-8"
    )


def startup_time(home: Path) -> tuple[float, float]:
    """(seconds to the prompt drawn, seconds to a typed character echoed back) for one start."""
    import pexpect

    started = time.perf_counter()
    child = spawn_repl(home)
    try:
        child.expect_exact(f"{MODEL_NAME}\x1b[0m", timeout=30)  # the prompt's model name (bold, then reset)
        child.expect_exact(">", timeout=30)
        prompt = time.perf_counter() - started
        child.send("q")
        child.expect_exact("q", timeout=30)
        echoed = time.perf_counter() - started
        child.send("\x03\x04")
        child.expect(pexpect.EOF, timeout=30)
    finally:
        child.close(force=True)
    return prompt, echoed


def tensorflow_imported(home: Path) -> list[str]:
    """TensorFlow/Keras modules `autocomplete repl` imported, from -X importtime (stderr to a file)."""
    import pexpect

    log = home / "importtime.txt"
    env = {**os.environ, "AUTOCOMPLETE_HOME": str(home), "TERM": "xterm-256color"}
    shell = f"exec {sys.executable} -X importtime -m autocomplete repl --model {MODEL_NAME} 2>{log}"
    child = pexpect.spawn("bash", ["-c", shell], env=env, dimensions=(30, 100), encoding="utf-8")
    child.expect_exact(f"{MODEL_NAME}\x1b[0m", timeout=30)
    child.send("\x04")
    child.expect(pexpect.EOF, timeout=30)
    child.close(force=True)
    names = {line.rsplit("|", 1)[1].strip() for line in log.read_text().splitlines() if line.count("|") == 2}
    return sorted(n for n in names if n.split(".")[0] in ("tensorflow", "keras"))


def machine() -> str:
    cpu = "unknown CPU"
    try:
        cpu = next(
            line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python {platform.python_version()}, numpy {np.__version__}"  # noqa: E501


def commit() -> str:
    run = lambda *a: subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True).stdout.strip()  # noqa: E731
    return run("rev-parse", "--short", "HEAD") + (
        " (with uncommitted changes)" if run("status", "--porcelain") else ""
    )


def table(rows: list[tuple[str, dict[str, float]]]) -> list[str]:
    out = ["| step | p50 (ms) | p99 (ms) | max (ms) |", "| --- | ---: | ---: | ---: |"]
    out += [f"| {name} | {p['p50']:.3f} | {p['p99']:.3f} | {p['max']:.3f} |" for name, p in rows]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=120, help="corpus lines typed (default: 120)")
    parser.add_argument("--starts", type=int, default=5, help="REPL start-ups timed (default: 5)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "repl_latency.md")
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    vocab, lstm, ngram = random_model()
    predictor = Predictor(vocab, 2, lstm, ngram, 0.5)
    trace = typing_trace(args.lines)
    unknown = sum(
        1
        for t in tokenize(" ".join(trace[-1:] + [t for t in trace if t.endswith(" ")]))
        if not vocab.knows(t)
    )
    keystroke_latency(predictor, trace[:200], cold=False)  # warm-up: imports, first allocations
    threaded = forward_passes(predictor, trace)  # numpy's default: OpenBLAS threads on every core
    one_thread = use_one_blas_thread()  # as `autocomplete repl` does
    single = forward_passes(predictor, trace)
    warm = keystroke_latency(predictor, trace, cold=False)
    cold = keystroke_latency(predictor, trace[: len(trace) // 3], cold=True)
    names = {
        "tokenize": "tokenize the line (split_typed)",
        "distribution": "distribution: LRU cache or LSTM ⊕ Kneser-Ney forward pass",
        "suggest": "suggest(): tokenize + distribution + prefix filter + top-K",
        "frame": "worker: answer + ghost (compute_frame)",
        "panel": "worker: panel rendered to ANSI (rich)",
        "worker": "**worker total per keystroke** (frame + panel)",
        "worker_cpu": "worker total, its CPU time (time.thread_time: without the waits for a core)",
        "ui": "UI thread per keystroke (ghost follow + toolbar lookup)",
    }

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        os.environ["AUTOCOMPLETE_HOME"] = str(home)
        save_model(vocab, lstm, ngram)
        starts = [startup_time(home) for _ in range(args.starts)]
        heavy = tensorflow_imported(home)

    load_after = os.getloadavg()[0]
    prompt_s, echo_s = [s[0] for s in starts], [s[1] for s in starts]
    command = "python benchmarks/repl_latency.py" + "".join(f" {a}" for a in sys.argv[1:])
    report = [
        "# REPL latency",
        "",
        f"- machine: {machine()}",
        f"- commit: {commit()}",
        f"- load average (1 min) when the run started / ended: {load_before:.2f} / {load_after:.2f} "
        f"(other processes on the machine compete for its {os.cpu_count()} cores; p99 and max suffer first)",
        f"- command: `{command}`",
        f"- model: V = {len(vocab):,} (20,000 words + 3 markers), embedding {EMBEDDING}, LSTM {UNITS}, "
        f"hidden {HIDDEN}, random weights, mixed 0.5/0.5 with a Kneser-Ney trigram (400k random ids)",
        f"- trace: {args.lines} lines of corpora/notebook.txt typed one character at a time: "
        f"{len(trace):,} keystrokes; {unknown} typed words outside the vocabulary",
        "",
        "## Per keystroke, predictor cache kept between keystrokes (as in the REPL)",
        "",
        *table([(names[k], percentiles(v)) for k, v in warm.items() if v]),
        "",
        f"## Per keystroke, cold: the predictor's cache cleared before each "
        f"({len(cold['worker']):,} keystrokes)",
        "",
        *table([(names[k], percentiles(v)) for k, v in cold.items() if v]),
        "",
        "## One forward pass (LSTM ⊕ Kneser-Ney, uncached), by BLAS threads",
        "",
        f"The REPL asks OpenBLAS for one thread (autocomplete/blas.py; done here too: {one_thread}); "
        "every figure above is with one thread.",
        "",
        *table(
            [
                (f"numpy's default ({os.cpu_count()} OpenBLAS threads)", percentiles(threaded)),
                ("one OpenBLAS thread, as in the REPL", percentiles(single)),
            ]
        ),
        "",
        "## Start-up: `autocomplete repl --model bench20k` in a pseudo-terminal (pexpect)",
        "",
        "| to | median (s) | max (s) | runs |",
        "| --- | ---: | ---: | ---: |",
        f"| the prompt drawn | {statistics.median(prompt_s):.3f} | {max(prompt_s):.3f} | {len(starts)} |",
        f"| a typed character echoed | {statistics.median(echo_s):.3f} | {max(echo_s):.3f} | {len(starts)} |",
        "",
        f"TensorFlow/Keras modules imported by `autocomplete repl`: {', '.join(heavy) or 'none'}.",
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(report), encoding="utf-8")
    print("\n".join(report))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
