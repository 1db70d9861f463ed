"""What the call-site argument check adds per dispatch, in the core.

The same task is dispatched through its registered binding (signature
resolved at registration, checked on every call) and through a copy of the
binding without a signature (no check), on the core's in-memory sender
(``core_app``).
"""

import dataclasses
from functools import partial

from spakky.task import TaskHandler, task

from benchmarks.cost.core_app import CoreApp, cost_row
from benchmarks.harness.core_api import TaskDispatcher
from benchmarks.harness.rows import Row
from benchmarks.harness.timing import compare

CALLS: dict[str, tuple[tuple[object, ...], dict[str, object]]] = {
    "positional": (("a", "b", "c"), {}),
    "keywords": (("a",), {"subject": "s", "body": "b"}),
}


@TaskHandler()
class Mail:
    """The task being dispatched."""

    @task
    def send(self, to: str, subject: str, body: str) -> None:
        """Three positional-or-keyword parameters, as most tasks have."""


def argument_rows(number: int, repeat: int) -> list[Row]:
    """Dispatch with the argument check against without it, per call shape."""
    core = CoreApp(Mail)
    try:
        dispatch = core.context.get(TaskDispatcher).dispatch
        checked = core.tasks["send"]
        unchecked = dataclasses.replace(checked, signature=None)
        rows = []
        for shape, (args, kwargs) in CALLS.items():
            stats = compare(
                {
                    "with": core.sampler(partial(dispatch, checked, args, kwargs)),
                    "without": core.sampler(partial(dispatch, unchecked, args, kwargs)),
                },
                number=number,
                repeat=repeat,
            )
            rows.append(
                cost_row(
                    f"argument check: dispatch, {shape}",
                    stats,
                    "with",
                    "without",
                    "raw: a binding without the signature",
                )
            )
    finally:
        core.app.stop()
    return rows
