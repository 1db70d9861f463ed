"""What the worker's tasks did, written by the tasks and read by the tests.

Each task appends ``<event> <job> <pid> <time>`` to the file named by
``SPAKKY_FAULT_LEDGER`` (one short ``O_APPEND`` write per line, so lines from
several processes never interleave; ``time`` is ``time.time()``, comparable
with the test's own clock on the same machine). The tests count from it what
ran, and when.
"""

import os
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

LEDGER_VARIABLE = "SPAKKY_FAULT_LEDGER"
"""Path of the ledger file, inherited by the worker from the test."""

HOLD_VARIABLE = "SPAKKY_FAULT_HOLD"
"""Path of a file whose presence keeps ``hold`` tasks waiting."""


def append(event: str, job: str) -> None:
    """Record ``event`` for ``job`` from this process (called by the tasks)."""
    path = os.environ.get(LEDGER_VARIABLE)
    if not path:
        return
    line = f"{event} {job} {os.getpid()} {time.time():.6f}\n".encode()
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(descriptor, line)
    finally:
        os.close(descriptor)


@dataclass(frozen=True, slots=True)
class Entry:
    """One ledger line."""

    event: str
    job: str
    pid: int
    at: float
    """When it was written (``time.time()``)."""


class Ledger:
    """Reads the ledger file of one test."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def entries(self) -> list[Entry]:
        if not self.path.exists():
            return []
        rows = [line.split() for line in self.path.read_text().splitlines()]
        return [Entry(e, j, int(p), float(t)) for e, j, p, t in rows]

    def count(self, event: str) -> Counter[str]:
        """How many times each job logged ``event``."""
        return Counter(entry.job for entry in self.entries() if entry.event == event)

    def first(self, event: str) -> dict[str, float]:
        """When each job first logged ``event``."""
        seen: dict[str, float] = {}
        for entry in self.entries():
            if entry.event == event:
                seen.setdefault(entry.job, entry.at)
        return seen

    def done(self) -> Counter[str]:
        """How many times each job completed."""
        return self.count("done")

    def wait_for(
        self, event: str, jobs: Iterable[str], timeout: float = 60.0
    ) -> set[str]:
        """Wait until every job of ``jobs`` logged ``event``; return those that did.

        Returns early when all are there, else after ``timeout`` seconds with
        the ones seen so far, so the caller can count what is missing.
        """
        wanted = set(jobs)
        deadline = time.monotonic() + timeout
        while True:
            seen = wanted & set(self.count(event))
            if seen == wanted or time.monotonic() >= deadline:
                return seen
            time.sleep(0.1)
