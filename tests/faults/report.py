"""The fault-injection tally: what the suite injected and what it observed.

Fault tests record into the session's ``FaultReport``; ``tests/faults/conftest.py``
prints its line at the end of the run. Every figure comes from a test's own
observations (the ledger the worker wrote, the errors the callers got), never
from a constant.
"""

from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass(slots=True)
class FaultReport:
    """Counts of one test session."""

    injected: list[str] = field(default_factory=list)
    """Every fault a test injected, by name (a fault may be injected twice)."""

    survived: list[str] = field(default_factory=list)
    """Faults whose test held every expectation after injecting them."""

    dispatched: int = 0
    """Tasks whose dispatch returned a handle (the broker accepted them)."""

    completed: int = 0
    """Of those, tasks the worker ran to completion at least once."""

    duplicates: int = 0
    """Extra completions of an already completed task (at-least-once redelivery)."""

    refused: int = 0
    """Dispatches that raised our error to their caller (never counted as sent)."""

    lost_jobs: list[str] = field(default_factory=list)
    """Accepted tasks that never completed."""

    dropped_as_documented: list[str] = field(default_factory=list)
    """Tasks a test shows are NOT redelivered under the at-most-once default
    (early acks, worker killed mid-task): the documented trade-off, reported
    apart from ``lost`` so neither hides the other."""

    figures: list[str] = field(default_factory=list)
    """Measured figures a test reports beside the tally (load, delays)."""

    @property
    def lost(self) -> int:
        return len(self.lost_jobs)

    @contextmanager
    def fault(self, name: str) -> Iterator[None]:
        """Count ``name`` as injected now, and as survived if the block passes."""
        self.injected.append(name)
        yield
        self.survived.append(name)

    def tasks(
        self,
        accepted: Iterable[str],
        completions: Counter[str],
        *,
        refused: int = 0,
    ) -> set[str]:
        """Record one test's tasks; return the accepted ones that never completed.

        Args:
            accepted: Jobs whose dispatch returned a handle.
            completions: How many times each job completed (from the ledger).
            refused: Dispatches that raised to their caller instead.
        """
        accepted = set(accepted)
        ran = {job for job in accepted if completions[job] > 0}
        lost = accepted - ran
        self.dispatched += len(accepted)
        self.completed += len(ran)
        self.duplicates += sum(completions[job] - 1 for job in ran)
        self.refused += refused
        self.lost_jobs.extend(sorted(lost))
        return lost

    def measure(self, what: str, seconds: float) -> None:
        """Record a timing the suite observed, for the summary."""
        self.figures.append(f"measured: {what}: {seconds:.2f} s")

    def documented_drop(self, jobs: Iterable[str]) -> None:
        """Record tasks dropped as the at-most-once default documents."""
        self.dropped_as_documented.extend(jobs)

    def line(self) -> str:
        """The summary a reader can quote."""
        return (
            f"fault-injection summary: faults injected {len(self.injected)}, "
            f"survived {len(self.survived)}; tasks dispatched {self.dispatched}, "
            f"completed {self.completed}, lost {self.lost} "
            f"(redelivered duplicates {self.duplicates}, dispatches refused "
            f"with an error to the caller {self.refused}); dropped under the "
            f"documented at-most-once default {len(self.dropped_as_documented)}"
        )


REPORT = FaultReport()
"""The report of this test session."""
