"""A side measured in another interpreter (the old distribution's environment).

The benchmark starts a driver (``python -m <module> <case as JSON>``) with
that interpreter; the driver builds what the case names and then answers one
JSON command a line on stdin with one JSON line on stdout, e.g.
``{"op": "sample", "number": 1000}`` -> ``{"us": 212.5}``. So a remote side
is sampled in the same rotation as the local ones, between them.

Imports only the standard library: both ends use it.
"""

import json
import os
import select
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from benchmarks.harness.timing import Sampler

REPLY_TIMEOUT = 600.0
"""Seconds a command may take (a long sample, a worker's batch)."""


class Remote:
    """A running driver; ``call`` sends one command and returns its reply."""

    def __init__(self, process: subprocess.Popen[str], log_path: Path) -> None:
        self._process = process
        self._log_path = log_path

    @property
    def log(self) -> str:
        return self._log_path.read_text(errors="replace")

    def call(self, op: str, **arguments: object) -> dict[str, Any]:
        """Send ``op`` with ``arguments``; the driver's reply (errors raise)."""
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps({"op": op, **arguments}) + "\n")
        self._process.stdin.flush()
        reply = self._reply()
        if "error" in reply:
            raise RuntimeError(
                f"the driver failed on {op}: {reply['error']}\n{self.log}"
            )
        return reply

    def _reply(self) -> dict[str, Any]:
        stdout = self._process.stdout
        assert stdout is not None
        ready, _, _ = select.select([stdout], [], [], REPLY_TIMEOUT)
        line = stdout.readline() if ready else ""
        if not line:
            raise RuntimeError(f"the driver did not answer:\n{self.log}")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def sampler(self) -> Sampler:
        """The driver's ``sample`` command as a sampler."""
        return lambda number: float(self.call("sample", number=number)["us"])


@contextmanager
def remote(
    python: Path,
    module: str,
    case: Mapping[str, object],
    env: Mapping[str, str],
    log_path: Path,
) -> Iterator[Remote]:
    """Start ``python -m module`` for ``case`` with ``env``; stop it after."""
    from benchmarks.harness.processes import ROOT

    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(python), "-m", module, json.dumps(case)],
            cwd=ROOT,
            env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    driver = Remote(process, log_path)
    try:
        driver._reply()  # built and ready
        yield driver
    finally:
        if process.poll() is None and process.stdin is not None:
            process.stdin.close()  # the driver stops at the end of its input
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def serve(commands: Mapping[str, Callable[..., dict[str, object]]]) -> None:
    """The driver's side: say ready, then answer commands until stdin ends.

    Anything else the driver prints goes to stderr, so stdout carries replies
    only.
    """
    replies: TextIO = sys.stdout
    sys.stdout = sys.stderr

    def reply(document: Mapping[str, object]) -> None:
        replies.write(json.dumps(document) + "\n")
        replies.flush()

    reply({"ready": True})
    for line in sys.stdin:
        command = json.loads(line)
        try:
            reply(commands[command.pop("op")](**command))
        except Exception as error:  # reported to the benchmark, which raises
            traceback.print_exc()  # into the driver's log
            reply({"error": repr(error)})
