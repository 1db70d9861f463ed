"""The measured Spakky application on taskiq (the spakky-taskiq plugin).

``raw_taskiq_app`` is its baseline. Both read the same ``SPAKKY_TASKIQ__*``
environment and do the same work (``benchmarks.work``). Worker processes load
it with ``spakky-taskiq worker benchmarks.taskiq_apps:plugin_app``.
"""

from spakky.core.application.application import SpakkyApplication
from spakky.task import TaskHandler, task

import spakky.plugins.taskiq
from benchmarks.spakky_app import build_application
from benchmarks.work import atick, awork, tick, work


@TaskHandler()
class TaskiqBenchHandler:
    """The plugin's tasks."""

    @task
    def work(self, a: int, b: str, k: int = 0) -> int:
        return work(a, b, k)

    @task
    async def awork(self, a: int, b: str, k: int = 0) -> int:
        return await awork(a, b, k)

    @task
    def tick(self) -> None:
        tick()

    @task
    async def atick(self) -> None:
        await atick()


def build_taskiq_plugin(
    *, tracing: bool = False, auth: bool = False
) -> SpakkyApplication:
    """The Spakky application on taskiq; tracing / auth plugins on demand."""
    return build_application(
        spakky.plugins.taskiq.PLUGIN_NAME,
        TaskiqBenchHandler,
        tracing=tracing,
        auth=auth,
    )


def plugin_app() -> SpakkyApplication:
    """The worker's application (``spakky-taskiq worker`` loads it)."""
    return build_taskiq_plugin()
