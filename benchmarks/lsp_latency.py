"""The language server's completion latency after start-up, measured by a real client over stdio.

    AUTOCOMPLETE_HOME=... python benchmarks/lsp_latency.py --model notebook   # writes results/lsp_latency.md
    python benchmarks/lsp_latency.py --lines 40 --out -                      # print only

`python -m autocomplete lsp` is started as an editor starts it; a bare JSON-RPC client (plain json over the
pipes, so little of the time is the client's) opens one document and types
lines of the bundled corpus into it one character at a time, each keystroke an incremental didChange and
then a textDocument/completion at the cursor, as an editor with completion-while-typing sends them. The time
is from sending the request to having the decoded answer (both pipes, pygls's parsing and the server's
document lookup, `suggest` with the predictor's cache as it stands, the items built and serialised).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time
from asyncio.subprocess import PIPE
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autocomplete import bundled, store  # noqa: E402

URI = "file:///bench/notes.txt"


def typing_trace(lines: int) -> list[str]:
    text = bundled.default_corpus().read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip()][:lines]


class Connection:
    """A bare JSON-RPC client over the server's pipes: plain json, so the time measured is the server's."""

    def __init__(self, process: asyncio.subprocess.Process):
        self.process, self.next_id = process, 0

    def send(self, method: str, params, request: bool = False) -> int:
        message = {"jsonrpc": "2.0", "method": method, "params": params}
        if request:
            self.next_id += 1
            message["id"] = self.next_id
        body = json.dumps(message).encode()
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        return self.next_id

    async def answer(self, request_id: int):
        """Read messages until the response to `request_id` (notifications from the server are skipped)."""
        while True:
            length = 0
            while (header := await self.process.stdout.readline()) not in (b"\r\n", b""):
                if header.lower().startswith(b"content-length:"):
                    length = int(header.split(b":")[1])
            message = json.loads(await self.process.stdout.readexactly(length))
            if message.get("id") == request_id:
                return message["result"]

    async def request(self, method: str, params):
        request_id = self.send(method, params, request=True)
        await self.process.stdin.drain()
        return await self.answer(request_id)


async def measure(model: str | None, lines: list[str]) -> tuple[list[float], float, int]:
    """Per-request latencies (ms), the start-up time to the first answer (s), and how many items in all."""
    started = time.perf_counter()
    command = [sys.executable, "-m", "autocomplete", "lsp", *(["--model", model] if model else [])]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = await asyncio.create_subprocess_exec(*command, stdin=PIPE, stdout=PIPE, env=env, limit=2**24)
    server = Connection(process)
    await server.request("initialize", {"capabilities": {}})
    server.send("initialized", {})
    server.send("textDocument/didOpen", {"textDocument": {"uri": URI, "languageId": "plaintext", "version": 1,
                                                          "text": ""}})  # fmt: skip
    first = await server.request("textDocument/completion", completion_params(0, 0))
    startup = time.perf_counter() - started
    latencies, items, version = [], len(first["items"]), 1
    for row, line in enumerate(lines):
        for column, char in enumerate(line + "\n"):
            version += 1
            at = {"line": row, "character": column}
            server.send("textDocument/didChange", {"textDocument": {"uri": URI, "version": version},
                        "contentChanges": [{"range": {"start": at, "end": at}, "text": char}]})  # fmt: skip
            cursor = (row + 1, 0) if char == "\n" else (row, column + 1)
            t = time.perf_counter()
            answer = await server.request("textDocument/completion", completion_params(*cursor))
            latencies.append((time.perf_counter() - t) * 1000)
            items += len(answer["items"])
    await server.request("shutdown", None)
    server.send("exit", None)
    await process.stdin.drain()
    await process.wait()
    return latencies, startup, items


def completion_params(line: int, character: int) -> dict:
    return {"textDocument": {"uri": URI}, "position": {"line": line, "character": character}}


def report(model: str, latencies: list[float], startup: float, items: int, lines: int, load) -> str:
    p = np.percentile(latencies, [50, 90, 99])
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()  # fmt: skip
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain"], capture_output=True, text=True)
    info = store.find(model).meta
    return "\n".join([
        "# Language server latency", "",
        f"- machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, numpy {np.__version__}",
        f"- commit: {commit}" + (" (with uncommitted changes)" if dirty.stdout.strip() else ""),
        f"- load average (1 min) when the run started / ended: {load[0]:.2f} / {os.getloadavg()[0]:.2f}",
        f"- command: `python benchmarks/lsp_latency.py --model {model} --lines {lines}`",
        f"- model: {model}, vocabulary {info.get('vocab_size', '?'):,}, context {info['config']['context']}",
        f"- trace: {lines} lines of corpora/notebook.txt typed one character at a time into one document: "
        f"{len(latencies):,} keystrokes, each an incremental didChange then a completion request; "
        f"{items / (len(latencies) + 1):.1f} items per answer", "",
        "| measure | p50 (ms) | p90 (ms) | p99 (ms) | max (ms) |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| completion request → answer, client side | {p[0]:.2f} | {p[1]:.2f} | {p[2]:.2f} | "
        f"{max(latencies):.2f} |", "",
        f"Start-up (spawn → initialized → the first answer): {startup:.2f} s.",
        "",
    ])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", help="model name in $AUTOCOMPLETE_HOME (default: the most recent)")
    parser.add_argument("--lines", type=int, default=120, help="lines of the bundled corpus to type")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/lsp_latency.md"), help="'-': print")
    args = parser.parse_args()
    model = args.model or store.find().name
    load = os.getloadavg()
    latencies, startup, items = asyncio.run(measure(model, typing_trace(args.lines)))
    text = report(model, latencies, startup, items, args.lines, load)
    if args.out != "-":
        Path(args.out).write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
