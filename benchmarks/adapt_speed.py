"""The adaptation's speed targets (issue 15), one BLAS thread as `predict` and the REPL run:

- uncached suggestion p50/p99 at a 20k-word vocabulary (the default sizes, random weights, vocabulary padded
  to 20000 as benchmarks/run.py's latency_at_20k) with a 2,000-token cache and a 100k-word memory, against
  the same predictor unadapted;
- learning one line (learn_line: filter, flock, append, fsync), learn_file of ~1 MB, and loading a 100k-word
  memory with and without its counts cache;
- the REPL with adaptation on (the same cache and memory): our work per keystroke (benchmarks/
  repl_latency.py's `keystroke_latency`: the answer, the ghost and the panel, as the worker thread does it,
  with the predictor's LRU cache as in the REPL, and cold), and learning one accepted line: `ReplState.accept`
  (cache and session memory, on the UI thread between two prompts) plus learn_line (the Learner's thread).

    python benchmarks/adapt_speed.py             # appends its figures to benchmarks/results/adapt_speed.md
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from adapt_holdout import CORPORA, train_tokens  # noqa: E402
from repl_latency import keystroke_latency  # noqa: E402

from autocomplete import memory  # noqa: E402
from autocomplete.adapt import DEFAULT_PARAMS, Adaptation, AdaptParams, suggest_adapted  # noqa: E402
from autocomplete.blas import use_one_blas_thread  # noqa: E402
from autocomplete.config import TrainConfig  # noqa: E402
from autocomplete.inference import LstmWeights, Predictor  # noqa: E402
from autocomplete.ngram import KneserNey  # noqa: E402
from autocomplete.repl.state import ReplState  # noqa: E402
from autocomplete.suggest import suggest  # noqa: E402
from autocomplete.text import MARKERS  # noqa: E402
from autocomplete.vocab import Vocabulary  # noqa: E402
from autocomplete.wordcounts import Lexicon  # noqa: E402

CALLS = 2000


def predictor_20k(tokens: list[str]) -> Predictor:
    config = TrainConfig()
    words = Vocabulary.build(Counter(tokens)).words[len(MARKERS) :]
    vocab = Vocabulary(MARKERS + words + tuple(f"zz{i:05d}" for i in range(20000 - len(words))))
    v, e, h, d = len(vocab), config.embedding_dim, config.units, config.hidden
    rng = np.random.default_rng(0)
    shapes = [(v, e), (e, 4 * h), (h, 4 * h), (4 * h,), (h, d), (d,), (d, v), (v,)]
    lstm = LstmWeights(*(rng.normal(scale=0.1, size=s).astype(np.float32) for s in shapes))
    ngram = KneserNey.fit(vocab.encode(tokens), v, config.context + 1, discount=None)
    return Predictor(vocab, config.context, lstm, ngram, 0.5, cache_size=1)


def percentiles(times: list[float]) -> str:
    ms = np.array(times) * 1e3
    return f"p50 {np.percentile(ms, 50):.3f} ms, p99 {np.percentile(ms, 99):.3f} ms"


def timed(f, items) -> list[float]:
    out, clock = [], time.perf_counter
    for item in items:
        start = clock()
        f(item)
        out.append(clock() - start)
    return out


def repl_figures(predictor: Predictor, adaptation: Adaptation, lines: list[str]) -> list[str]:
    """The REPL's per-keystroke work and its learning of a line, adaptation on, as report lines."""
    repl_predictor = Predictor(predictor.vocab, predictor.context_size, predictor.lstm, predictor.ngram,
                               predictor.lstm_weight)  # fmt: skip  # with the REPL's LRU cache
    trace = [line[:i] for line in lines for i in range(len(line) + 1)]
    plain = keystroke_latency(repl_predictor, trace, cold=False)  # the same typing, --no-adapt
    state = ReplState("bench", repl_predictor, 5, adaptation=adaptation)
    warm = keystroke_latency(repl_predictor, trace, cold=False, state=state)
    cold = keystroke_latency(repl_predictor, trace[: len(trace) // 3], cold=True, state=state)
    written = [t * 1e3 for t in timed(lambda line: memory.learn_line("bench", line), lines)]

    def ms(samples: list[float]) -> str:
        return percentiles([t / 1e3 for t in samples])

    return [
        f"- REPL per keystroke, adapted (the worker: answer, ghost, panel), predictor cache as in the REPL "
        f"({len(trace):,} keystrokes, {len(lines)} lines): wall {ms(warm['worker'])}, CPU "
        f"{ms(warm['worker_cpu'])}; UI thread {ms(warm['ui'])}; the same typing unadapted (--no-adapt): "
        f"wall {ms(plain['worker'])}, CPU {ms(plain['worker_cpu'])}",
        f"- REPL per keystroke, adapted, the predictor's cache cleared before each "
        f"({len(cold['worker']):,} keystrokes): wall {ms(cold['worker'])}, CPU {ms(cold['worker_cpu'])}",
        f"- REPL learning one line: accept (UI thread, between prompts) wall {ms(warm['accept'])}, CPU "
        f"{ms(warm['accept_cpu'])}; then learn_line on the Learner's thread (flock, append, fsync) "
        f"{ms(written)}",
    ]


def main() -> None:
    use_one_blas_thread()
    os.environ["AUTOCOMPLETE_HOME"] = tempfile.mkdtemp(prefix="adapt-speed-")
    lines = (CORPORA / "tinyshakespeare.txt").read_text(encoding="utf-8").split("\n")
    predictor = predictor_20k(train_tokens("shakespeare"))
    started = time.perf_counter()
    learned = memory.learn_file("bench", CORPORA / "sherlock.txt")
    learn_file_s = time.perf_counter() - started
    started = time.perf_counter()
    big = memory.learn_file("big", CORPORA / "tinyshakespeare.txt")
    learn_mb_s = time.perf_counter() - started
    load_cached = timed(lambda _: memory.load("bench", Lexicon(predictor.vocab)), range(10))
    (memory.memory_dir("bench") / memory.COUNTS_FILE).unlink()
    load_text = timed(lambda _: memory.load("bench", Lexicon(predictor.vocab)), range(1))
    params = AdaptParams(2000, DEFAULT_PARAMS.cache, DEFAULT_PARAMS.memory)  # the target's cache size
    adaptation = Adaptation(predictor.vocab, params, memory.load("bench", Lexicon(predictor.vocab)))
    for line in lines[36000:36600]:  # the session so far: a full 2,000-token cache
        adaptation.accept(line, learn=False)
    trace = [line[:i] for line in lines[36600:37400] for i in range(len(line) + 1)][: CALLS * 3 : 3]
    timed(lambda t: suggest_adapted(t, predictor, adaptation, 5), trace[:100])  # warm numpy up
    plain = timed(lambda t: (predictor.clear_cache(), suggest(t, predictor, 5)), trace)
    adapted = timed(lambda t: (predictor.clear_cache(), suggest_adapted(t, predictor, adaptation, 5)), trace)
    learn = timed(lambda line: memory.learn_line("bench", line), lines[37400:37900])
    repl = repl_figures(predictor, adaptation, [ln for ln in lines[37900:38200] if ln.strip()])
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    cpu = next(ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
               if ln.startswith("model name"))  # fmt: skip
    out = [
        f"## {time.strftime('%Y-%m-%d %H:%M %Z')}, commit {commit.stdout.strip()}, {os.cpu_count()} cores "
        f"({cpu}), load {os.getloadavg()[0]:.2f}, `python benchmarks/adapt_speed.py`",
        "",
        f"- vocabulary {len(predictor.vocab) - 3:,}; cache {len(adaptation.cache.tokens):,} tokens; memory "
        f"{adaptation.memory.words():,} words ({learned.words:,} learned from sherlock.txt)",
        f"- uncached suggestion, unadapted: {percentiles(plain)} ({len(trace)} calls)",
        f"- uncached suggestion, adapted: {percentiles(adapted)}",
        f"- learn_line: {percentiles(learn)} ({len(learn)} lines)",
        *repl,
        f"- learn_file: sherlock.txt (575 kB) {learn_file_s:.2f} s; tinyshakespeare.txt (1.1 MB, "
        f"{big.words:,} words) {learn_mb_s:.2f} s",
        f"- memory load, 100k words: with counts.npz {percentiles(load_cached)}; from the text alone "
        f"{load_text[0] * 1e3:.0f} ms",
        "",
    ]
    print("\n".join(out))
    results = HERE / "results" / "adapt_speed.md"
    if not results.exists():
        results.write_text(
            "# Adaptation speed (python benchmarks/adapt_speed.py; 2 cores, one BLAS thread)\n\n"
        )
    with results.open("a", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
