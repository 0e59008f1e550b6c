"""Capture the REPL's screen as text for the README: docs/repl-screen.txt (plain) and .ansi (with colours).

    python docs/capture_repl_screen.py                    # the most recent model in the store
    python docs/capture_repl_screen.py --model notebook   # e.g. after `autocomplete train` (bundled corpus)

Runs `autocomplete repl` in a private tmux server (tmux must be installed), accepts one line, types part of
another, and keeps the screen as `tmux capture-pane` shows it. In the plain text the ghost text (dimmed on
a terminal) reads like typed text; `cat docs/repl-screen.ansi` in a terminal shows it dimmed.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parent
COMMAND = str(Path(sys.executable).with_name("autocomplete"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="model name (default: the most recent)")
    parser.add_argument("--accept", default="I want to go home", help="a line typed and accepted first")
    parser.add_argument("--type", default="It was a long t", help="then typed, and the screen captured")
    parser.add_argument("--width", type=int, default=90)
    parser.add_argument("--height", type=int, default=15)
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        sys.exit("tmux is not installed")

    socket = Path(tempfile.mkdtemp()) / "tmux.sock"  # a private tmux server
    tmux = ["tmux", "-S", str(socket)]
    repl = f"{COMMAND} repl" + (f" --model {args.model}" if args.model else "")
    session = [*tmux, "new-session", "-d", "-x", str(args.width), "-y", str(args.height), "-s", "repl"]
    subprocess.run([*session, f"env TERM=xterm-256color {repl}"], check=True)

    def keys(*k: str, wait: float = 0.8) -> None:
        subprocess.run([*tmux, "send-keys", "-t", "repl", *k], check=True)
        time.sleep(wait)

    def capture(*flags: str) -> str:
        shown = subprocess.run(
            [*tmux, "capture-pane", "-p", *flags, "-t", "repl"], capture_output=True, text=True
        )
        return "\n".join(line.rstrip() for line in shown.stdout.splitlines()).rstrip() + "\n"

    try:
        time.sleep(1.5)
        keys(args.accept)
        keys("Enter")
        for ch in args.type:  # one key at a time, as typed
            keys(ch, wait=0.05)
        time.sleep(1.0)
        (DOCS / "repl-screen.txt").write_text(capture(), encoding="utf-8")
        (DOCS / "repl-screen.ansi").write_text(capture("-e"), encoding="utf-8")
        keys("C-c", "C-d", wait=0.3)
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)
        shutil.rmtree(socket.parent, ignore_errors=True)
    sys.stdout.write((DOCS / "repl-screen.txt").read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
