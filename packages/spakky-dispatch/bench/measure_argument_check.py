"""What the call-site argument check adds per dispatch, in-process.

Run from the repository root::

    .venv/bin/python packages/spakky-dispatch/bench/measure_argument_check.py

One application of the dispatch core on its in-memory sender (no broker, so
the ratio is an upper bound: a real publish costs far more). The same task is
dispatched through its registered binding (signature resolved at
registration, checked on every call) and through a copy of the binding
without a signature (no check), interleaved round by round. Each figure is the
best round's mean time per call.
"""

import dataclasses
import time
from collections.abc import Mapping
from typing import override

from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext
from spakky.core.pod.annotations.pod import Pod
from spakky.task import TaskHandler, task

from spakky.dispatch.core import TaskDispatcher
from spakky.dispatch.core.adapter import (
    CORE_COMPONENTS,
    IScheduleRegistrar,
    ITaskEndpointRegistrar,
    ScheduledCall,
    ScheduleSpec,
    TaskBinding,
    TaskRegistrar,
)
from spakky.dispatch.core.testing import InMemoryTaskSender

ROUNDS = 15
CALLS = 20_000


@TaskHandler()
class Mail:
    """The task being dispatched."""

    @task
    def send(self, to: str, subject: str, body: str) -> None:
        """Three positional-or-keyword parameters, as most tasks have."""


@Pod()
class NoEndpoints(ITaskEndpointRegistrar):
    """No worker side: only dispatch is measured."""

    @override
    def register(self, binding: TaskBinding) -> None:
        return None


@Pod()
class NoSchedules(IScheduleRegistrar):
    """No schedules."""

    @override
    def register(self, task_name: str, spec: ScheduleSpec, call: ScheduledCall) -> None:
        return None


@Pod()
def memory_sender() -> InMemoryTaskSender:
    """The transport: the core's in-memory sender."""
    return InMemoryTaskSender()


def _round(
    dispatcher: TaskDispatcher,
    binding: TaskBinding,
    args: tuple[object, ...],
    kwargs: Mapping[str, object],
    sender: InMemoryTaskSender,
) -> float:
    started = time.perf_counter()
    for _ in range(CALLS):
        dispatcher.dispatch(binding, args, kwargs)
    elapsed = time.perf_counter() - started
    sender.clear()
    return elapsed / CALLS * 1e6


def main() -> None:
    """Print the best µs per dispatch with and without the check, and the ratio."""
    context = ApplicationContext()
    app = SpakkyApplication(context)
    for pod in (*CORE_COMPONENTS, memory_sender, NoEndpoints, NoSchedules, Mail):
        app.add(pod)
    app.start()
    context.get(TaskRegistrar).register_container(context)
    dispatcher = context.get(TaskDispatcher)
    checked = dispatcher.binding_of(context.get(Mail).send)
    unchecked = dataclasses.replace(checked, signature=None)
    calls: dict[str, tuple[tuple[object, ...], dict[str, object]]] = {
        "positional": (("a", "b", "c"), {}),
        "keywords": (("a",), {"subject": "s", "body": "b"}),
    }
    sender = InMemoryTaskSender()
    best: dict[tuple[str, bool], float] = {}
    try:
        with dispatcher.sending_to(sender):
            for _ in range(ROUNDS):
                for shape, (args, kwargs) in calls.items():
                    for check, binding in ((True, checked), (False, unchecked)):
                        took = _round(dispatcher, binding, args, kwargs, sender)
                        key = (shape, check)
                        best[key] = min(best.get(key, took), took)
    finally:
        app.stop()
    print("| call | without check | with check | added | ratio |")
    print("|---|---|---|---|---|")
    for shape in calls:
        without, with_ = best[(shape, False)], best[(shape, True)]
        print(
            f"| {shape} | {without:.2f} µs | {with_:.2f} µs | "
            f"{with_ - without:+.2f} µs | {with_ / without:.3f} |"
        )


if __name__ == "__main__":
    main()
