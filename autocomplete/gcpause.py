"""Starting without the cyclic garbage collector.

What a command makes while it starts (modules, typer's parse, the model, the REPL's prompt_toolkit
application and its ~600 key bindings) lives until the process ends, so the collections that start-up
triggers find nothing: wasted work before the REPL's prompt (benchmarks/results/startup.md). `main` pauses it;
`resume`, once start-up is over (a command's own work begins; the REPL's prompt is drawn), moves what exists
into the permanent generation (later collections skip it: a keystroke's collection stays small) and
collects again as usual. A cycle made garbage during start-up is never freed: a few objects, once.
"""

from __future__ import annotations

import gc


def pause() -> None:
    gc.disable()


def resume() -> None:
    """Collect again (no-op unless paused), start-up's objects frozen out of later collections."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()
