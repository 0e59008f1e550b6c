"""The command line: parse, call one core function, render with rich. Nothing here imports TensorFlow."""

from __future__ import annotations

import functools
import json
import os
import re
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from autocomplete import gcpause, store
from autocomplete.config import TrainConfig
from autocomplete.errors import AutocompleteError, ClusterError, ExitStatus, Interrupted, UsageError
from autocomplete.shell_completion import ModelNamesGroup
from autocomplete.suggest import MAX_TOP_K
from autocomplete.text import MARKERS

app = typer.Typer(
    help="Next-word suggestions in the terminal, learnt from your own text by an LSTM.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=ModelNamesGroup,  # shell completion of model names (autocomplete/shell_completion.py)
)
models_app = typer.Typer(
    help="List the trained models, or remove one.", invoke_without_command=True, cls=ModelNamesGroup
)
app.add_typer(models_app, name="models")

NO_ADAPT_HELP = "Turn off the recency cache and the personal memory: the trained model alone."


def stdout_console() -> Console:
    """Made per call, so that tests' redirected streams are honoured."""
    return Console()


def stderr_console() -> Console:
    """For errors and warnings; made per call, as stdout_console()."""
    return Console(stderr=True, soft_wrap=True)


def _default(field: str) -> str:
    """TrainConfig's default for `train --help` (the options default to None: "not given, use the preset")."""
    value = getattr(TrainConfig(), field)
    if isinstance(value, bool):
        return f"--{field.replace('_', '-')}" if value else f"--no-{field.replace('_', '-')}"
    return str(value)



def friendly_errors(command):
    """Turn the project's errors into one line on stderr and the exit status they name; never a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        gcpause.resume()  # the command's own work: see gcpause.py
        try:
            return command(*args, **kwargs)
        except AutocompleteError as error:
            from autocomplete.render import one_line  # only on the error path: render imports more

            message = Text.assemble(("error:", "bold red"), " ", one_line(str(error)))
            stderr_console().print(message)
            if isinstance(error, ClusterError):  # TensorFlow's threads still wait on the lost peer, and
                sys.stdout.flush()  # can hold the interpreter's exit for minutes: nothing is left to clean
                sys.stderr.flush()
                os._exit(error.status)
            raise typer.Exit(error.status) from None
        except KeyboardInterrupt:
            stderr_console().print(Text("interrupted", style="yellow"))
            raise typer.Exit(ExitStatus.INTERRUPTED) from None
        except BrokenPipeError:  # `autocomplete predict --stdin | head`
            sys.stderr.close()
            raise typer.Exit(ExitStatus.SUCCESS) from None

    return wrapper


# Characters that readers splitting on Unicode line breaks (Python's splitlines) would cut a line at.
_LINE_BREAKS = str.maketrans({c: f"\\u{ord(c):04x}" for c in "\x85\u2028\u2029"})


def _json_line(data: dict | list) -> str:
    """One JSON value on exactly one line, whatever the reader counts as a line break; a NaN or infinity
    raises instead of writing invalid JSON."""
    return json.dumps(data, ensure_ascii=False, allow_nan=False).translate(_LINE_BREAKS) + "\n"


def check_top_k(top_k: int) -> int:
    if not 1 <= top_k <= MAX_TOP_K:
        raise UsageError(f"--top-k must be between 1 and {MAX_TOP_K} (got {top_k})")
    return top_k


@app.command()
@friendly_errors
def train(
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Text files, folders (their text files, recursively) or quoted globs to learn from "
            "(default: the bundled corpus).",
            show_default=False,
        ),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Model name (default: the first file's stem).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a model of the same name.")] = False,
    preset: Annotated[
        str, typer.Option(help="Starting sizes: 'default', or 'tiny' for the course's 8/8/8 model.")
    ] = "default",
    context: Annotated[
        int | None,
        typer.Option(help="Words of context in, the next word out.", show_default=_default("context")),
    ] = None,
    embedding_dim: Annotated[
        int | None, typer.Option(help="Embedding size.", show_default=_default("embedding_dim"))
    ] = None,
    units: Annotated[int | None, typer.Option(help="LSTM units.", show_default=_default("units"))] = None,
    hidden: Annotated[
        int | None,
        typer.Option(help="Units of the relu layer before the softmax.", show_default=_default("hidden")),
    ] = None,
    dropout: Annotated[
        float | None,
        typer.Option(help="Dropout after the LSTM and the hidden layer.", show_default=_default("dropout")),
    ] = None,
    tie_embeddings: Annotated[
        bool | None,
        typer.Option(
            "--tie-embeddings/--no-tie-embeddings",
            help="The softmax reuses the embedding matrix (needs --hidden equal to --embedding-dim).",
            show_default=_default("tie_embeddings"),
        ),
    ] = None,
    epochs: Annotated[
        int | None,
        typer.Option(
            help="Most epochs; early stopping usually ends sooner.", show_default=_default("epochs")
        ),
    ] = None,
    patience: Annotated[
        int | None,
        typer.Option(
            help="Epochs without a better validation perplexity before stopping.",
            show_default=_default("patience"),
        ),
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(help="Examples per step.", show_default=_default("batch_size"))
    ] = None,
    learning_rate: Annotated[
        float | None, typer.Option(help="Adam's learning rate.", show_default=_default("learning_rate"))
    ] = None,
    epoch_words: Annotated[
        int | None,
        typer.Option(
            help="Most words an epoch trains on: a bigger corpus trains each epoch on a fresh random sample.",
            show_default=_default("epoch_words"),
        ),
    ] = None,
    val_split: Annotated[
        float | None,
        typer.Option(
            help="Share of the corpus (its tail) held out for validation, in (0, 0.5].",
            show_default=_default("val_split"),
        ),
    ] = None,
    max_vocab: Annotated[
        int | None, typer.Option(help="Most words in the vocabulary.", show_default=_default("max_vocab"))
    ] = None,
    min_count: Annotated[
        int | None,
        typer.Option(
            help="Fewest occurrences for a word to enter the vocabulary.", show_default=_default("min_count")
        ),
    ] = None,
    ngram: Annotated[
        bool | None,
        typer.Option(
            "--ngram/--no-ngram", help="Mix in a Kneser-Ney n-gram model.", show_default=_default("ngram")
        ),
    ] = None,
    lstm_min_count: Annotated[
        int | None,
        typer.Option(
            help="With the n-gram: fewest occurrences for a word to get its own LSTM output (rarer words "
            "share one, split by the n-gram).",
            show_default=_default("lstm_min_count"),
        ),
    ] = None,
    refit_epochs: Annotated[
        int | None,
        typer.Option(
            help="After validation, this many more epochs on all the text, the validation part included "
            "(0: none).",
            show_default=_default("refit_epochs"),
        ),
    ] = None,
    softmax_samples: Annotated[
        int | None,
        typer.Option(
            help="Train on a sampled softmax of this many words a step instead of the whole vocabulary "
            "(0: the whole; the refit epochs use the whole); faster on a big vocabulary, and the saved "
            "model is the same kind.",
            show_default=_default("softmax_samples"),
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Random seed, for a reproducible run.", show_default=_default("seed"))
    ] = None,
    strategy: Annotated[
        str | None,
        typer.Option(
            help="Where to train (tf.distribute): 'auto' (one device; every local GPU when there are "
            "several; the cluster of TF_CONFIG when it names one), 'default' (one device), 'mirrored' "
            "(every local GPU, else every logical CPU) or 'multiworker' (TF_CONFIG's cluster: the same "
            "command on every host, only the chief saves). With N replicas the global batch is N x "
            "--batch-size and the learning rate N x --learning-rate.",
            show_default=_default("strategy"),
        ),
    ] = None,
    cluster_timeout: Annotated[
        float | None,
        typer.Option(
            help="Seconds to wait for every worker of TF_CONFIG to start before giving up.",
            show_default=_default("cluster_timeout"),
        ),
    ] = None,
    prune: Annotated[
        str | None,
        typer.Option(
            help="Drop the n-gram's rare n-grams, as KenLM's --prune: 'auto' (the top order's seen once, "
            "above 25M tokens), 0 (none), N (the top order's seen at most N times) or one count per order "
            "2..N (B,T for the trigram).",
            show_default=_default("prune"),
        ),
    ] = None,
) -> None:
    """Learn a next-word model from text files and save it in the model store.

    Ctrl-C stops training: once an epoch has finished the best model so far is saved, and either way the
    command exits with 130.
    """
    from autocomplete import config, render
    from autocomplete.training_ui import interrupted_message, train_with_progress

    out = stdout_console()
    settings = config.preset(
        preset, context=context, embedding_dim=embedding_dim, units=units, hidden=hidden, dropout=dropout,
        tie_embeddings=tie_embeddings, epochs=epochs, patience=patience, batch_size=batch_size,
        learning_rate=learning_rate, epoch_words=epoch_words, val_split=val_split, max_vocab=max_vocab,
        min_count=min_count, ngram=ngram, lstm_min_count=lstm_min_count, refit_epochs=refit_epochs,
        softmax_samples=softmax_samples, seed=seed, strategy=strategy, cluster_timeout=cluster_timeout,
        prune=prune,
    )  # fmt: skip
    result = train_with_progress(_read_once(files) if files else None, settings, out, name=name, force=force)
    out.print(render.training_summary(result))
    if result.interrupted:
        raise Interrupted(interrupted_message(result))
    if result.saved:  # a worker of a cluster trains in step with the chief, which alone saves
        out.print(_try_it(result.name))


def warn(text: str) -> None:
    """One warning line on stderr; the text is shown as it is, never as markup."""
    from autocomplete import render

    stderr_console().print(Text.assemble(("warning:", "bold yellow"), " ", render.plain(text)))


def _read_once(files: list[Path]) -> list[Path]:
    """The corpus files with a file given twice kept once, and a warning saying so."""
    from autocomplete.corpus import distinct

    files, notes = distinct(files)
    for note in notes:
        warn(note)
    return files


def _try_it(name: str) -> Text:
    """A first command to run: predict after the model's most frequent word, a context it knows well."""
    from autocomplete import render

    words = store.load(name)[1].vocab.words[len(MARKERS) :]
    prompt = f"{words[0]} " if words else ""
    command = render.plain(f'autocomplete predict "{prompt}" --model {name}', "bold")
    return Text.assemble("Try it: ", command, " or ", ("autocomplete repl", "bold"))


@app.command()
@friendly_errors
def predict(
    text: Annotated[
        str | None,
        typer.Argument(
            help="What has been typed so far; a trailing partial word is completed.", show_default=False
        ),
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Model name (default: the most recent).")
    ] = None,
    top_k: Annotated[int, typer.Option("--top-k", "-k", help="How many suggestions.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per answer.")] = False,
    stdin: Annotated[
        bool, typer.Option("--stdin", help="Answer each line of standard input as it arrives.")
    ] = False,
    no_adapt: Annotated[bool, typer.Option("--no-adapt", help=NO_ADAPT_HELP)] = False,
) -> None:
    """Suggest the next word, or complete the word being typed. TEXT is everything before the cursor: the
    words before the context feed the recency cache."""
    from autocomplete import adapted
    from autocomplete.blas import use_one_blas_thread

    check_top_k(top_k)
    if stdin == (text is not None):
        raise UsageError("give either TEXT or --stdin (one text per line)")
    info, predictor = store.load(model)
    adaptation = None if no_adapt else adapted.adaptation_for(info.name, info.meta, predictor)
    use_one_blas_thread()  # one small product per answer: a second BLAS thread only adds latency
    if stdin:
        _predict_stream(predictor, adaptation, info.name, top_k, as_json)
        return
    answer = adapted.answer(_valid_text(text), predictor, adaptation, top_k)
    if as_json:
        sys.stdout.write(_json_line(_answer_json(answer, info.name, adaptation)))
        return
    from autocomplete import render

    chosen = "" if model else store.default_note(info)
    stdout_console().print(render.suggestions_table(answer, title=f"model: {info.name}{chosen}"))


_SURROGATE = re.compile("[\ud800-\udfff]")


def _valid_text(text: str) -> str:
    """`text` with lone surrogates (Python's stand-ins for undecodable bytes in argv) made U+FFFD, so that
    every answer is valid UTF-8."""
    return _SURROGATE.sub("\ufffd", text)


def _answer_json(answer, model_name: str, adaptation) -> dict:
    return {**answer.to_json(), "model": model_name, "adapted": adaptation is not None}


def _predict_stream(predictor, adaptation, model_name: str, top_k: int, as_json: bool) -> None:
    """The scripting interface: plain writes, flushed per answer (rich would cost more than the model).
    Each line is answered on its own: the adaptation is the same before every line."""
    from autocomplete.adapted import answer as answer_for

    write, flush = sys.stdout.write, sys.stdout.flush
    if hasattr(sys.stdin, "reconfigure"):
        sys.stdin.reconfigure(errors="replace")  # a stray byte becomes U+FFFD, as in corpus files
    for line in sys.stdin:
        text = _valid_text(line.removesuffix("\n").removesuffix("\r"))  # CRLF from Windows editors
        answer = answer_for(text, predictor, adaptation, top_k)
        if as_json:
            write(_json_line(_answer_json(answer, model_name, adaptation)))
        else:
            write("\t".join(s.word for s in answer.items) + "\n")
        flush()


@app.command()
@friendly_errors
def evaluate(
    textfile: Annotated[
        Path,
        typer.Argument(help="Held-out text to measure on (not the model's own text).", show_default=False),
    ],
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Model name (default: the most recent).")
    ] = None,
    top_k: Annotated[
        int,
        typer.Option("--top-k", "-k", help="Suggestions the simulated typist sees (K of keystroke savings)."),
    ] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
    adapt: Annotated[
        bool,
        typer.Option(
            "--adapt/--no-adapt",
            help="Also simulate typing the file with the recency cache and the personal memory, and show "
            "both figures side by side (the saved memory is not changed).",
        ),
    ] = False,
) -> None:
    """Measure a model on held-out text: perplexity, top-1/3/5 accuracy, keystroke savings, speed."""
    from autocomplete.evaluate import evaluate as run_evaluation

    check_top_k(top_k)
    info, predictor = store.load(model)
    trained_on = [f.get("sha256") for f in info.meta.get("corpus", []) if isinstance(f, dict)]
    result = run_evaluation(textfile, predictor, top_k, trained_on)
    from autocomplete import render

    if result.training_text:
        warn(f"{result.path} is text model {info.name!r} was trained on: these figures are not held-out")
    if adapt:
        _evaluate_adapted(textfile, info, predictor, top_k, as_json, result, model)
        return
    if as_json:
        sys.stdout.write(_json_line({**result.to_json(), "model": info.name}))
        return

    chosen = "" if model else store.default_note(info)
    stdout_console().print(render.evaluation_table(result, title=f"model: {info.name}{chosen}"))


def _evaluate_adapted(textfile, info, predictor, top_k, as_json, unadapted, model) -> None:
    from autocomplete import adapted, render_adapt
    from autocomplete.evaluate_adapt import evaluate_adapted

    adaptation = adapted.adaptation_for(info.name, info.meta, predictor)
    result = evaluate_adapted(textfile, predictor, adaptation, top_k)
    if as_json:
        both = {"unadapted": unadapted.to_json(), "adapted": result.to_json(), "model": info.name}
        sys.stdout.write(_json_line(both))
        return
    chosen = "" if model else store.default_note(info)
    table = render_adapt.adapted_evaluation_table(unadapted, result, title=f"model: {info.name}{chosen}")
    stdout_console().print(table)


# --- the personal memory: learn, forget ---------------------------------------------------------------


@app.command()
@friendly_errors
def learn(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Text files, folders (their text files, recursively) or quoted globs to learn from.",
            show_default=False,
        ),
    ],
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Model name (default: the most recent).")
    ] = None,
) -> None:
    """Add the text of files to a model's personal memory (kept across sessions and retraining)."""
    from autocomplete import adapted, render_adapt
    from autocomplete.training_ui import expanded

    info = store.find(model)
    files = expanded(_read_once(files), stdout_console())
    with render_adapt.FileProgress(stderr_console()) as progress:
        learned = adapted.learn(info.name, files, progress.update)
    stdout_console().print(render_adapt.learned_line(learned))


@app.command()
@friendly_errors
def forget(
    words: Annotated[
        list[str] | None, typer.Argument(help="Words to remove from the memory.", show_default=False)
    ] = None,
    everything: Annotated[bool, typer.Option("--all", help="Empty the memory.")] = False,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Model name (default: the most recent).")
    ] = None,
) -> None:
    """Remove words (and every learned line holding one) from a model's personal memory, or empty it."""
    from autocomplete import adapted, render_adapt

    info = store.find(model)
    stdout_console().print(render_adapt.forgotten_line(adapted.forget(info.name, words or (), everything)))


@models_app.callback()
@friendly_errors
def models(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="A JSON list of the models.")] = False,
) -> None:
    """List the trained models (the default one is the most recently trained)."""
    if ctx.invoked_subcommand:
        return
    if as_json:
        _models_json()
        return
    from autocomplete import render

    out = stdout_console()
    infos = store.list_models(verify=True)
    if not infos:
        folder = render.plain(store.models_dir())
        hint = ("autocomplete train FILE", "bold")
        out.print(Text.assemble("No models yet in ", folder, ". Train one: ", hint))
        return
    from autocomplete.adapted import words_learned

    out.print(render.models_table(infos, store.default_name(infos), words_learned(infos)))


@models_app.command("rm")
@friendly_errors
def models_rm(name: Annotated[str, typer.Argument(help="The model to remove.")]) -> None:
    """Remove a model from the store."""
    from autocomplete import render

    removed = store.remove(name)
    line = Text.assemble("Removed model ", render.plain(name, "bold"), " (", render.plain(removed.path), ")")
    if removed.note:
        line.append(f"; {removed.note}")
    stdout_console().print(line)


@app.command()
@friendly_errors
def repl(
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Model name (default: the most recent).")
    ] = None,
    top_k: Annotated[int, typer.Option("--top-k", "-k", help="Suggestions shown.")] = 5,
    vi: Annotated[bool, typer.Option("--vi", help="Vi key bindings (default: Emacs).")] = False,
    complete_while_typing: Annotated[
        bool,
        typer.Option(
            "--complete-while-typing",  # a flag: "--no-..." as well would not fit 80 columns
            help="Pop the completion menu up while typing (F2 toggles).",
        ),
    ] = False,
    train_default: Annotated[
        bool,
        typer.Option(
            "--train-default",
            help="With no model yet, train the bundled corpus first. Ctrl-C stops that training (the best "
            "epoch so far is saved) and exits with 130 without opening the REPL.",
        ),
    ] = False,
    no_adapt: Annotated[bool, typer.Option("--no-adapt", help=NO_ADAPT_HELP)] = False,
    no_learn: Annotated[
        bool,
        typer.Option(
            "--no-learn",
            help="Learn nothing this session: no line into the memory or the history file (:incognito "
            "toggles it for a while; AUTOCOMPLETE_NO_LEARN=1 for good).",
        ),
    ] = False,
    once: Annotated[
        bool,
        typer.Option(
            "--once",
            help="Accept one line, print it and exit 0. Ctrl-C exits with 130, Ctrl-D (or :quit) with 1, "
            "printing nothing.",
        ),
    ] = False,
    multiline: Annotated[
        bool,
        typer.Option(
            "--multiline", help="Paragraphs: Enter starts a new line, Alt-Enter (or Esc, Enter) submits."
        ),
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Append accepted lines to FILE (instead of standard output).",
            metavar="FILE", show_default=False,
        ),
    ] = None,  # fmt: skip
) -> None:
    """Type with live next-word suggestions, Tab completion and ghost text. Every line you accept is
    learned into the model's personal memory (secrets never are) unless learning is off.

    Each accepted line goes to standard output (or --output FILE), flushed.
    The prompt is drawn on the terminal even when standard output is a file
    or a pipe: `autocomplete repl >> notes.md`,
    `git commit -m "$(autocomplete repl --once)"`.
    Without a terminal, use `autocomplete predict --stdin`.

    Ctrl-C clears the line; if it stops training for --train-default, the
    command exits with 130.
    """
    check_top_k(top_k)
    gcpause.pause()  # its start-up goes on until the prompt is drawn (repl/app.py resumes then)
    try:
        from autocomplete.repl.app import run

        status = run(
            model=model,
            top_k=top_k,
            vi=vi,
            complete_while_typing=complete_while_typing,
            train_default=train_default,
            adapt=not no_adapt,
            no_learn=no_learn,
            once=once,
            multiline=multiline,
            output=output,
        )
    finally:
        gcpause.resume()  # when it ended before any prompt was drawn
    if status:
        raise typer.Exit(status)


# --- generate, lsp, --version, models --json -------------------------------------------------------


@app.command()
@friendly_errors
def generate(
    text: Annotated[
        str, typer.Argument(help='The text to go on from ("" for a fresh start).', show_default=False)
    ] = "",
    words: Annotated[
        int | None,
        typer.Option(help="Most words to write.", show_default="50; 1000 with --sentences"),
    ] = None,
    sentences: Annotated[
        int | None, typer.Option(help="Stop after this many sentence ends.", show_default=False)
    ] = None,
    temperature: Annotated[
        float, typer.Option(help="Below 1 more predictable, above 1 more surprising; 0 always the likeliest.")
    ] = 1.0,
    top_k: Annotated[
        int | None,
        typer.Option("--top-k", "-k", help="Draw only from the K likeliest words.", show_default=False),
    ] = None,
    top_p: Annotated[
        float | None,
        typer.Option(help="Draw only from the likeliest words that together reach P.", show_default=False),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Random seed, for reproducible text.", show_default=False)
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Model name (default: the most recent).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object at the end.")] = False,
) -> None:
    """Write text word by word, sampled from the model (as the suggestions rank it)."""
    import numpy as np

    from autocomplete import generate as gen

    sampling = gen.Sampling(temperature, top_k, top_p).validated()
    gen.check_lengths(words, sentences)
    info, predictor = store.load(model)
    from autocomplete.blas import use_one_blas_thread

    use_one_blas_thread()  # one small product per word, as in `predict`
    limit = words if words is not None else 1000 if sentences else 50
    rng = np.random.default_rng(seed)
    tokens = gen.take(gen.sample_words(predictor, text, rng, sampling), limit, sentences)
    after_text = bool(text) and not text[-1].isspace()
    if as_json:
        tokens = list(tokens)
        written = "".join(gen.readable(tokens, gen.seed_ends_sentence(text), after_text))
        answer = {
            "seed_text": text,
            "text": text + written,
            "words": tokens,
            "model": info.name,
            "seed": seed,
        }
        sys.stdout.write(_json_line(answer))
        return
    sys.stdout.write(text)
    for piece in gen.readable(tokens, gen.seed_ends_sentence(text), after_text):  # streamed, word by word
        sys.stdout.write(piece)
        sys.stdout.flush()
    sys.stdout.write("\n")


@app.command()
@friendly_errors
def lsp(
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Model name (default: the most recent).")
    ] = None,
    top_k: Annotated[int, typer.Option("--top-k", "-k", help="Completion items per request.")] = 10,
) -> None:
    """A language server on stdio: next-word completion in your editor (needs the lsp extra)."""
    check_top_k(top_k)
    try:
        from autocomplete.lsp import serve
    except ImportError:
        # Written plainly: "[lsp]" must not be read as rich markup.
        sys.stderr.write('error: the language server needs pygls: pip install "autocomplete[lsp]"\n')
        raise typer.Exit(1) from None
    serve(model, top_k)


def _models_json() -> None:
    """`models --json`: one list, every model with its problem (null when it is usable)."""
    import math

    from autocomplete.adapted import words_learned

    infos = store.list_models(verify=True)
    default, learned = store.default_name(infos), words_learned(infos)
    rows = []
    for info in infos:
        meta, validation = info.meta, info.meta.get("validation") or {}
        perplexity = validation.get("perplexity")
        finite = isinstance(perplexity, int | float) and math.isfinite(perplexity)
        rows.append({
            "name": info.name, "default": info.name == default,
            "corpus": [f.get("name") for f in meta.get("corpus", []) if isinstance(f, dict)],
            "vocab_size": meta.get("vocab_size"), "context": (meta.get("config") or {}).get("context"),
            "validation_perplexity": perplexity if finite else None,
            "created": meta.get("created"), "words_learned": learned.get(info.name, 0),
            "problem": info.problem,
        })  # fmt: skip
    sys.stdout.write(_json_line(rows))


def _print_version(value: bool) -> None:
    if value:
        from autocomplete import __version__

        sys.stdout.write(f"autocomplete {__version__}\n")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Next-word suggestions in the terminal, learnt from your own text by an LSTM."""


def main() -> None:
    gcpause.pause()  # start-up makes only what lives until exit: see gcpause.py
    app()
