"""What trace propagation adds to one dispatch and one worker invocation.

Three compositions of the core's ``HeaderPropagation`` over one task, in a
core application (``core_app``):

- ``baseline``: no header propagator (the path without tracing);
- ``adapter only``: ``TraceHeaderPropagator`` with no ``ITracePropagator``
  (the plugin's default when spakky-tracing's plugin is not loaded);
- ``w3c``: ``TraceHeaderPropagator`` with ``W3CTracePropagator``.

Dispatch is ``TaskDispatcher.route`` + ``dispatch`` from a caller inside a
trace, on the core's in-memory sender and, when Redis is reachable, on a real
``CeleryTaskSender``. Invocation is ``TaskInvoker.invoke`` of a sync no-op
task with the headers the dispatch produced.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from spakky.task import TaskHandler, task
from spakky.tracing import ITracePropagator, TraceContext, W3CTracePropagator

from benchmarks.celery.env import REDIS_URL
from benchmarks.cost.core_app import CoreApp, cost_row
from benchmarks.harness.core_api import (
    HeaderPropagation,
    IHeaderPropagator,
    ITaskSender,
    TaskCall,
    TaskDispatcher,
    TaskInvoker,
    TaskRegistry,
)
from benchmarks.harness.env import environment, reachable, unique
from benchmarks.harness.rows import Row
from benchmarks.harness.timing import Sampler, compare, sampler
from spakky.dispatch.tracing import TraceHeaderPropagator, TraceScope

VARIANTS: dict[str, Callable[[], list[IHeaderPropagator]]] = {
    "baseline": list,
    "adapter only": lambda: [TraceHeaderPropagator()],
    "w3c": lambda: [TraceHeaderPropagator(_w3c())],
}
WITHOUT = "raw: no header propagator"


def _w3c() -> list[ITracePropagator]:
    return [W3CTracePropagator()]


@TaskHandler()
class TraceCostHandler:
    """The measured task: does nothing."""

    @task
    def noop(self, value: int) -> int:
        return value


type Probe = tuple[Callable[[], object], Callable[[], object]]
"""One dispatch and one worker-side invocation of a variant."""


def _probe(
    core: CoreApp, sender: ITaskSender, propagators: list[IHeaderPropagator]
) -> Probe:
    binding = core.tasks["noop"]
    registry = TaskRegistry()
    registry.add(binding)
    propagation = HeaderPropagation(propagators)
    dispatcher = TaskDispatcher(registry, propagation, sender)
    dispatcher.set_application_context(core.context)
    invoker = TaskInvoker(registry, propagation)
    invoker.set_application_context(core.context)
    method = core.context.get(TraceCostHandler).noop
    with TraceScope(TraceContext.new_root()):
        headers = propagation.inject(TaskCall(task=binding, task_id="bench"))

    def dispatch() -> object:
        found = dispatcher.route(method)
        assert found is not None
        return dispatcher.dispatch(found, (1,), {})

    def invoke() -> object:
        return invoker.invoke(binding.name, (1,), None, headers, "bench")

    return dispatch, invoke


@contextmanager
def _celery_sender() -> Iterator[ITaskSender]:
    from spakky.dispatch.celery import CeleryConfig, CeleryTaskSender, build_celery_app

    with environment(
        SPAKKY_CELERY__BROKER_URL=REDIS_URL,
        SPAKKY_CELERY__DEFAULT_QUEUE=unique("trace-cost"),
    ):
        celery = build_celery_app(CeleryConfig())
    try:
        yield CeleryTaskSender(celery)
    finally:
        celery.control.purge()


def tracing_rows(number: int, repeat: int) -> list[Row]:
    """Tracing (the adapter alone, and with W3C) against no propagator."""
    core = CoreApp(TraceCostHandler)
    try:
        probes = {
            name: _probe(core, core.sender, make()) for name, make in VARIANTS.items()
        }
        rows = _rows("core only (in-memory sender)", core, probes, number, repeat)
        if reachable(REDIS_URL):
            with _celery_sender() as sender:
                probes = {
                    name: _probe(core, sender, make())
                    for name, make in VARIANTS.items()
                }
                rows += _rows(
                    "through CeleryTaskSender to Redis",
                    core,
                    probes,
                    max(number // 20, 20),
                    repeat,
                    invoke=False,
                )
    finally:
        core.app.stop()
    return rows


def _rows(
    where: str,
    core: CoreApp,
    probes: dict[str, Probe],
    number: int,
    repeat: int,
    *,
    invoke: bool = True,
) -> list[Row]:
    samplers: dict[str, Sampler] = {}
    with TraceScope(TraceContext.new_root()):  # the caller's trace
        samplers = {name: core.sampler(probe[0]) for name, probe in probes.items()}
        dispatch = compare(samplers, number=number, repeat=repeat)
    stats = {"dispatch": dispatch}
    if invoke:
        samplers = {name: sampler(probe[1]) for name, probe in probes.items()}
        stats["invoke"] = compare(samplers, number=number, repeat=repeat)
    return [
        cost_row(
            f"tracing: {path} {where}, {variant}", figures, variant, "baseline", WITHOUT
        )
        for path, figures in stats.items()
        for variant in ("adapter only", "w3c")
    ]
