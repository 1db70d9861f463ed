"""What calling a task past its aspect proxy saves per worker-side task, in-process.

Run from the repository root::

    .venv/bin/python packages/spakky-dispatch/bench/measure_proxy_bypass.py

One application of the dispatch core with the dispatch aspects (the only
aspects of the task, so ``proxy_bypass`` lets the invoker call the handler's
own method). The same task is invoked with the bypass and with the bypass
turned off (every call through the proxy and the dispatch aspect), interleaved
round by round. Figures are CPU time of this process per task (other load on
the machine barely moves them): median and best round.
"""

import statistics
import time
from typing import Any, override

from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext
from spakky.core.pod.annotations.pod import Pod
from spakky.task import TaskHandler, task

from spakky.dispatch.core import invoker as invoker_module_typed
from spakky.dispatch.core.adapter import (
    CORE_COMPONENTS,
    IScheduleRegistrar,
    ITaskEndpointRegistrar,
    ScheduledCall,
    ScheduleSpec,
    TaskBinding,
    TaskInvoker,
    TaskRegistrar,
    task_name_for,
)
from spakky.dispatch.core.aspects import AsyncTaskDispatchAspect, TaskDispatchAspect
from spakky.dispatch.core.testing import InMemoryTaskSender

invoker_module: Any = invoker_module_typed  # its imported names are patched below

ROUNDS = 21
CALLS = 20_000


@TaskHandler()
class Work:
    """The task being invoked."""

    @task
    def run(self, a: int, b: str) -> int:
        """Two arguments, a result."""
        return a


@Pod()
class NoEndpoints(ITaskEndpointRegistrar):
    """No transport endpoints: the invoker is called directly."""

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


def main() -> None:
    """Print µs of CPU per task with the bypass and through the proxy."""
    context = ApplicationContext()
    app = SpakkyApplication(context)
    pods: tuple[Any, ...] = (
        *CORE_COMPONENTS,
        memory_sender,
        NoEndpoints,
        NoSchedules,
        TaskDispatchAspect,
        AsyncTaskDispatchAspect,
        Work,
    )
    for pod in pods:
        app.add(pod)
    app.start()
    context.get(TaskRegistrar).register_container(context)
    invoker = context.get(TaskInvoker)
    name = task_name_for(Work, "run")
    bypass = invoker_module.passes_through
    variants = {"bypass": bypass, "through the proxy": lambda *_: False}
    samples: dict[str, list[float]] = {label: [] for label in variants}
    try:
        for round_ in range(ROUNDS):
            order = list(variants.items())
            for label, decide in order if round_ % 2 else reversed(order):
                invoker_module.passes_through = decide
                invoker._targets.clear()  # decided again at the next task
                invoker.invoke(name, (1, "x"))
                started = time.process_time()
                for _ in range(CALLS):
                    invoker.invoke(name, (1, "x"))
                samples[label].append((time.process_time() - started) / CALLS * 1e6)
    finally:
        invoker_module.passes_through = bypass
        app.stop()
    base = statistics.median(samples["bypass"])
    print("| TaskInvoker.invoke | µs/task (median) | best | vs bypass |")
    print("|---|---|---|---|")
    for label, values in samples.items():
        median = statistics.median(values)
        print(
            f"| {label} | {median:.2f} | {min(values):.2f} | "
            f"{median - base:+.2f} µs ({median / base:.2f}x) |"
        )


if __name__ == "__main__":
    main()
