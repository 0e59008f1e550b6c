"""Rich renderings of the core's answers: tables for suggestions, models, training (its progress bars are
progress.py's: rich.progress is more to import than `predict` needs).

Functions take plain data and return renderables; the caller owns the Console (tests pass a StringIO one).
User strings (file, model and corpus names, words, typed text) go in as `Text`, never as markup.
"""

from __future__ import annotations

import copy
import math

from rich.console import Console, ConsoleOptions, Group
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from autocomplete.metrics import NextWordScores
from autocomplete.store import ModelInfo
from autocomplete.suggest import Suggestions
from autocomplete.text import BOUNDARY
from autocomplete.vocab import FIRST_WORD_ID


def one_line(text: str) -> str:
    """`text` with each unprintable character (newline, escape, ...) written as its Python escape: a user's
    string stays on one line and cannot drive the terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def plain(text: object, style: str = "") -> Text:
    """A user string as text that rich never reads as markup, on one line."""
    return Text(one_line(str(text)), style=style)


def _title(title: str | None) -> Text | None:
    return None if title is None else plain(title)


def bar(fraction: float, width: int = 20) -> Text:
    """A horizontal bar of `width` cells, in eighths."""
    eighths = max(0, min(width * 8, round(fraction * width * 8)))
    full, part = divmod(eighths, 8)
    return Text("█" * full + (" ▏▎▍▌▋▊▉"[part] if part else ""), style="cyan")


def context_text(s: Suggestions) -> Text:
    """The model's context window: sentence starts as ⟨start⟩, unknown words struck through and marked '?'."""
    text = Text()
    for i, word in enumerate(s.context):
        if i:
            text.append(" ")
        if word == BOUNDARY:
            text.append("⟨start⟩", style="dim")
        elif word in s.unknown:
            text.append(f"{word}?", style="yellow strike")
        else:
            text.append(word, style="bold")
    return text


def suggestions_table(s: Suggestions, title: str | None = None) -> Table:
    what = f"words starting with “{s.prefix}”" if s.prefix else "next word"
    caption = Text.assemble("context: ", context_text(s), f" · {what}")
    table = Table(title=_title(title), caption=caption, caption_justify="left")
    table.add_column("#", justify="right", style="dim")
    table.add_column("word", style="bold green")
    table.add_column("probability", justify="right")
    table.add_column("", min_width=20)
    top = max((x.probability for x in s.items), default=1.0) or 1.0
    for rank, item in enumerate(s.items, start=1):
        table.add_row(str(rank), plain(item.word), f"{item.probability:.1%}", bar(item.probability / top))
    if not s.items:
        empty = "no known word starts with that" if s.prefix else "no suggestion"
        table.add_row("", Text(empty, style="dim"), "", "")
    return table


def _fmt(value: float | None, spec: str) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


def models_table(infos: list[ModelInfo], default: str | None, learned: dict[str, int] | None = None) -> Group:
    """The models as a table, then one line per broken model saying what is wrong and what to do; `learned`
    holds the words in each model's personal memory."""
    learned = learned or {}
    caption = None
    if infos:
        default_note = " · ● the default (the newest that loads)" if default else ""
        caption = Text.assemble("store: ", plain(infos[0].path.parent), default_note)
    table = Table(title="Models", caption=caption, caption_justify="left")
    table.add_column("", width=1)
    table.add_column("name", style="bold", no_wrap=True)
    table.add_column("corpus", overflow="fold", max_width=30)
    table.add_column("vocabulary", justify="right")
    table.add_column("context", justify="right")
    table.add_column("val. ppl", justify="right")
    table.add_column("created", overflow="fold")  # wraps when space is short, never cut with …
    table.add_column("learned", justify="right", no_wrap=True)
    for info in infos:
        meta = info.meta
        mark = Text("●", style="green") if info.name == default else ""
        if info.problem:
            table.add_row(mark, plain(info.name), Text("✗ broken", style="red"), "", "", "", "", "")
            continue
        validation = meta.get("validation") or {}
        corpus = ", ".join(f.get("name", "?") for f in meta.get("corpus", []))
        table.add_row(
            mark, plain(info.name), plain(corpus), f"{meta.get('vocab_size', 0):,}",
            str(meta.get("config", {}).get("context", "?")),
            _fmt(validation.get("perplexity"), ".1f"), info.created_display, f"{learned.get(info.name, 0):,}",
        )  # fmt: skip
    notes = [
        Text.assemble(("✗ ", "red"), plain(info.name, "bold"), f": {one_line(info.problem)}; remove it with ",
                      plain(f"autocomplete models rm {info.name}", "bold"), " and train it again")
        for info in infos if info.problem
    ]  # fmt: skip
    optional = ("context", "corpus", "learned", "val. ppl", "created", "vocabulary")
    return Group(FittedTable(table, optional), *notes)


class FittedTable:
    """A table drawn without its optional columns (in the order given) where it would not fit whole: a name
    or a header is never cut (`vocabula…`)."""

    def __init__(self, table: Table, optional: tuple[str, ...]):
        self.table, self.optional = table, optional

    def __rich_console__(self, console: Console, options: ConsoleOptions):
        table = copy.copy(self.table)  # the columns hold the cells: leaving one out leaves out its cells
        unbounded = options.update_width(10_000)  # Measurement.get clamps to the width it is given
        for header in self.optional:
            if Measurement.get(console, unbounded, table).minimum <= options.max_width:
                break
            table.columns = [c for c in table.columns if c.header != header]
        yield table


def scores_rows(table: Table, label: str, scores: NextWordScores | None) -> None:
    if scores is None:
        table.add_row(label, "— (corpus too small for a validation part)")
        return
    unseen = f" (and {scores.unknown:,} unseen ones, not scored)" if scores.unknown else ""
    if not scores.words:
        table.add_row(label, f"— (no word of the validation part was seen in training){unseen}")
        return
    table.add_row(
        label,
        f"perplexity {scores.perplexity:.1f} · top-1 {scores.top1:.1%} · top-5 {scores.top5:.1%} "
        f"· {scores.words:,} words{unseen}",
    )


LISTED_FILES = 10  # corpus files named in the training summary; the rest are counted


def training_summary(result) -> Table:
    """The table printed after `train`: what was learnt, how well, and where it went."""
    table = Table(title=plain(f"Trained {result.name!r}"), show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    listed, rest = result.files[:LISTED_FILES], result.files[LISTED_FILES:]
    for f in listed:
        note = f" ({f.replaced:,} undecodable bytes replaced)" if f.replaced else ""
        table.add_row("corpus", Text.assemble(plain(f.path), note))
    if rest:  # a folder of notes may hold thousands
        replaced = sum(f.replaced for f in rest)
        note = f" ({replaced:,} undecodable bytes replaced in them)" if replaced else ""
        more = f"… and {len(rest):,} more file{'s' * (len(rest) != 1)}"
        table.add_row("corpus", f"{more}, {sum(f.size for f in rest) / 1e6:,.1f} MB{note}")
    table.add_row("words", f"{result.words:,}")
    vocabulary = f"{result.vocab_size:,} (including {FIRST_WORD_ID} markers)"
    if result.lstm_vocab_size < result.vocab_size:
        own = result.lstm_vocab_size - FIRST_WORD_ID
        vocabulary += f"; the LSTM predicts the {own:,} most frequent, the n-gram shares out the rest"
    table.add_row("vocabulary", vocabulary)
    table.add_row("parameters", f"{result.parameters:,}")
    epochs = f"{result.epochs_run} (best: {result.best_epoch})"
    if result.sampled:
        epochs += f" of {result.sampled:,} random words each"
    if result.refit_epochs:
        epochs += f", then {result.refit_epochs} on all the text"
    if result.interrupted:
        skipped = ", refit skipped" if result.refit_skipped else ""
        epochs += f" — interrupted during {result.interrupted_during}{skipped}; best epoch saved"
    table.add_row("epochs", epochs)
    if result.lstm_weight < 1.0:
        mix = f"{result.lstm_weight:.2f} × LSTM + {1 - result.lstm_weight:.2f} × Kneser-Ney n-gram"
        table.add_row("mix", mix)
        scores_rows(table, "validation", result.validation)
        scores_rows(table, "LSTM alone", result.validation_lstm)
    else:
        scores_rows(table, "validation", result.validation)
    if result.replicas > 1:
        table.add_row("replicas", f"{result.replicas}, in step: batch and learning rate × {result.replicas}")
    table.add_row("time", f"{result.seconds:.0f} s")
    if result.saved:
        table.add_row("saved to", plain(result.path))
    else:
        table.add_row("saved to", "nothing here: the chief of TF_CONFIG's cluster saves the model")
    return table


def evaluation_table(e, title: str | None = None) -> Table:
    """The table printed by `evaluate` (e: autocomplete.evaluate.Evaluation)."""
    s, ksr = e.scores, e.ksr
    caption = Text.assemble(plain(e.path), f" · {e.words:,} words")
    table = Table(title=_title(title), show_header=False, title_justify="left",
                  caption=caption, caption_justify="left")  # fmt: skip
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_column(style="dim")
    scored = f"over {s.words:,} words in the vocabulary" if s.words else f"none: {e.note}"
    table.add_row("perplexity", _fmt(s.perplexity if s.words else None, ".1f"), scored)
    unknown = f"{s.unknown:,} not in the vocabulary (not scored)"
    table.add_row("unknown words", f"{s.unknown_share:.1%}", unknown)
    for k, value in ((1, s.top1), (3, s.top3), (5, s.top5)):
        among = "is the first suggestion" if k == 1 else f"is among the first {k} suggestions"
        table.add_row(f"top-{k} accuracy", _fmt(value if s.words else None, ".1%"), f"the next word {among}")
    table.add_row(
        f"keystroke savings (K={ksr.k})", f"{ksr.rate:.1%}",
        f"{ksr.keystrokes:,} keystrokes instead of {ksr.baseline:,}; {ksr.accepted:,} words accepted",
    )  # fmt: skip
    table.add_row("speed", f"{e.words_per_second:,.0f} words/s", f"{e.seconds:.1f} s in all")
    return table
