"""What calling a task past its aspect proxy saves per worker-side task.

A core application (``core_app``) with the dispatch aspects, the only
aspects of the task, so ``proxy_bypass`` lets the invoker call the handler's
own method. The same task is invoked by the application's invoker (the
bypass) and by a second invoker over the same registry whose plan of the
task is told not to bypass (every call through the proxy and the dispatch
aspect, as before ``proxy_bypass``).
"""

from typing import Any

from spakky.task import TaskHandler, task

from benchmarks.cost.core_app import CoreApp, cost_row
from benchmarks.harness.core_api import HeaderPropagation, TaskInvoker, TaskRegistry
from benchmarks.harness.rows import Row
from benchmarks.harness.timing import compare, sampler
from spakky.dispatch.core.aspects import AsyncTaskDispatchAspect, TaskDispatchAspect

ARGS = (1, "x")


@TaskHandler()
class BypassCostHandler:
    """The measured task."""

    @task
    def run(self, a: int, b: str) -> int:
        """Two arguments, a result."""
        return a


def _through_proxy(core: CoreApp, name: str) -> TaskInvoker:
    """An invoker of ``name`` that calls it through the handler's proxy."""
    context = core.context
    invoker = TaskInvoker(context.get(TaskRegistry), context.get(HeaderPropagation))
    invoker.set_application_context(context)
    invoker.invoke(name, ARGS)  # makes the task's plan
    plan: Any = invoker._targets[name]  # the bypass decision, made once
    plan.direct, plan.method = False, None  # resolved again, through the proxy
    return invoker


def proxy_bypass_rows(number: int, repeat: int) -> list[Row]:
    """``TaskInvoker.invoke`` with the bypass against through the proxy."""
    core = CoreApp(TaskDispatchAspect, AsyncTaskDispatchAspect, BypassCostHandler)
    try:
        name = core.tasks["run"].name
        bypass = core.context.get(TaskInvoker)
        proxy = _through_proxy(core, name)
        if bypass.invoke(name, ARGS) != proxy.invoke(name, ARGS):
            raise RuntimeError("the bypass and the proxy returned different values")
        stats = compare(
            {
                "bypass": sampler(lambda: bypass.invoke(name, ARGS)),
                "proxy": sampler(lambda: proxy.invoke(name, ARGS)),
            },
            number=number,
            repeat=repeat,
        )
    finally:
        core.app.stop()
    return [
        cost_row(
            "proxy bypass: invoke a sync task, dispatch aspects only",
            stats,
            "bypass",
            "proxy",
            "raw: through the aspect proxy",
        )
    ]
