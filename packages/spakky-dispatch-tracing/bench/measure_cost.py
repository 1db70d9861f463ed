"""Measure what trace propagation adds to one dispatch and one worker invocation.

Run from the workspace root::

    .venv/bin/python packages/spakky-dispatch-tracing/bench/measure_cost.py
    .venv/bin/python packages/spakky-dispatch-tracing/bench/measure_cost.py \\
        --celery-broker redis://127.0.0.1:6379/15

Three compositions of the core's ``HeaderPropagation`` are compared:

- ``baseline``: no header propagator (the path without tracing);
- ``adapter only``: ``TraceHeaderPropagator`` with no ``ITracePropagator``
  (the plugin's default when spakky-tracing's plugin is not loaded);
- ``w3c``: ``TraceHeaderPropagator`` with ``W3CTracePropagator``.

Dispatch is ``TaskDispatcher.route`` + ``dispatch`` from a caller inside a
trace, on a sender that does nothing (the core's own cost), and optionally on
a real ``CeleryTaskSender``. Worker invocation is ``TaskInvoker.invoke`` of a
sync no-op task with the headers the dispatch produced. Each figure is the
best of several repeats, in microseconds per call.
"""

import argparse
import timeit
from collections.abc import Callable
from typing import Any

from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext
from spakky.core.pod.annotations.pod import Pod
from spakky.task import TaskHandler, task
from spakky.task.interfaces.task_result import ITaskResult
from spakky.tracing import ITracePropagator, TraceContext, W3CTracePropagator

from spakky.dispatch.core import TaskDispatcher
from spakky.dispatch.core.adapter import (
    HeaderPropagation,
    IHeaderPropagator,
    ITaskSender,
    TaskBinding,
    TaskCall,
    TaskInvoker,
    TaskMessage,
    TaskRegistry,
)
from spakky.dispatch.tracing import TraceHeaderPropagator, TraceScope


@TaskHandler()
class BenchHandler:
    """The measured task: does nothing."""

    @task
    def noop(self, value: int) -> int:
        return value


class NullSender(ITaskSender):
    """Publishes nothing; returns one prepared handle."""

    def send(self, message: TaskMessage) -> ITaskResult[Any]:
        return _NO_RESULT


class _NoResult(ITaskResult[Any]):
    @property
    def task_id(self) -> str:
        return "bench"

    def get(self) -> Any:
        return None

    async def get_async(self) -> Any:
        return None


_NO_RESULT = _NoResult()

VARIANTS: dict[str, Callable[[], list[IHeaderPropagator]]] = {
    "baseline": list,
    "adapter only": lambda: [TraceHeaderPropagator()],
    "w3c": lambda: [TraceHeaderPropagator(_w3c())],
}


def _w3c() -> list[ITracePropagator]:
    return [W3CTracePropagator()]


type Probe = tuple[Callable[[], object], Callable[[], object]]
"""One dispatch and one worker-side invocation of a variant."""


def _probe(
    context: ApplicationContext,
    handler: BenchHandler,
    binding: TaskBinding,
    sender: ITaskSender,
    propagators: list[IHeaderPropagator],
) -> Probe:
    registry = TaskRegistry()
    registry.add(binding)
    propagation = HeaderPropagation(propagators)
    dispatcher = TaskDispatcher(registry, propagation, sender)
    dispatcher.set_application_context(context)
    invoker = TaskInvoker(registry, propagation)
    invoker.set_application_context(context)
    method, args = handler.noop, (1,)
    with TraceScope(TraceContext.new_root()):
        headers = propagation.inject(TaskCall(task=binding, task_id="bench"))

    def dispatch() -> object:
        task = dispatcher.route(method)
        assert task is not None
        return dispatcher.dispatch(task, args, {})

    def invoke() -> object:
        return invoker.invoke(binding.name, args, None, headers, "bench")

    return dispatch, invoke


def measure(
    sender: ITaskSender, number: int, repeat: int
) -> dict[str, tuple[float, float]]:
    """Return the best (dispatch µs, invoke µs) per variant.

    Dispatch runs inside a caller's trace. Variants are interleaved in every
    repeat so that drift of the machine's speed affects them alike.
    """
    app = SpakkyApplication(ApplicationContext()).add(BenchHandler).start()
    context = app.application_context
    assert isinstance(context, ApplicationContext)
    handler = app.container.get(BenchHandler)
    binding = TaskBinding.of(Pod.get(BenchHandler), "noop")
    probes = {
        name: _probe(context, handler, binding, sender, propagators())
        for name, propagators in VARIANTS.items()
    }
    best = {name: [float("inf"), float("inf")] for name in probes}
    try:
        for _ in range(repeat):
            for name, (dispatch, invoke) in probes.items():
                with TraceScope(TraceContext.new_root()):
                    dispatch_s = timeit.timeit(dispatch, number=number)
                invoke_s = timeit.timeit(invoke, number=number)
                best[name][0] = min(best[name][0], dispatch_s / number * 1e6)
                best[name][1] = min(best[name][1], invoke_s / number * 1e6)
    finally:
        app.stop()
    return {name: (figures[0], figures[1]) for name, figures in best.items()}


def _celery_sender(broker: str) -> tuple[ITaskSender, Callable[[], None]]:
    import os

    from spakky.dispatch.celery import CeleryConfig, CeleryTaskSender, build_celery_app

    os.environ["SPAKKY_CELERY__BROKER_URL"] = broker
    os.environ["SPAKKY_CELERY__DEFAULT_QUEUE"] = "spakky-bench-trace-cost"
    celery = build_celery_app(CeleryConfig())

    def purge() -> None:
        celery.control.purge()

    return CeleryTaskSender(celery), purge


def report(title: str, figures: dict[str, tuple[float, float]]) -> None:
    """Print per-variant µs, and the cost over ``baseline`` in µs and as ratio."""
    base_dispatch, base_invoke = figures["baseline"]
    print(f"\n{title}")
    print(
        f"{'variant':<14}{'dispatch µs':>13}{'added':>9}{'ratio':>8}"
        f"{'invoke µs':>12}{'added':>9}{'ratio':>8}"
    )
    for name, (dispatch_us, invoke_us) in figures.items():
        print(
            f"{name:<14}{dispatch_us:>13.2f}{dispatch_us - base_dispatch:>9.2f}"
            f"{dispatch_us / base_dispatch:>8.2f}{invoke_us:>12.2f}"
            f"{invoke_us - base_invoke:>9.2f}{invoke_us / base_invoke:>8.2f}"
        )


def main() -> None:
    """Parse arguments, measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument(
        "--celery-broker", help="also measure dispatch through CeleryTaskSender"
    )
    options = parser.parse_args()
    report(
        "core only (sender publishes nothing)",
        measure(NullSender(), options.number, options.repeat),
    )
    if options.celery_broker:
        sender, purge = _celery_sender(options.celery_broker)
        try:
            figures = measure(sender, max(options.number // 20, 200), options.repeat)
        finally:
            purge()
        report(f"dispatch through Celery send_task to {options.celery_broker}", figures)


if __name__ == "__main__":
    main()
