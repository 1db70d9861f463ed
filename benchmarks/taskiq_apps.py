"""The measured Spakky application on taskiq (the spakky-taskiq plugin).

``raw_taskiq_app`` is its baseline. Both read the same ``SPAKKY_TASKIQ__*``
environment and do the same work (``benchmarks.work``). Worker processes load
it with ``spakky-taskiq worker benchmarks.taskiq_apps:plugin_app``.
"""

import spakky.plugins.cryptography
from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext
from spakky.task import TaskHandler, task
from spakky.tracing import PLUGIN_NAME as TRACING_PLUGIN_NAME

import spakky.plugins.taskiq
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
    plugins = {spakky.plugins.taskiq.PLUGIN_NAME}
    if tracing:
        plugins.add(TRACING_PLUGIN_NAME)
    if auth:
        plugins.add(spakky.plugins.cryptography.PLUGIN_NAME)
    app = SpakkyApplication(ApplicationContext()).load_plugins(include=plugins)
    return app.add(TaskiqBenchHandler).start()


def plugin_app() -> SpakkyApplication:
    """The worker's application (``spakky-taskiq worker`` loads it)."""
    return build_taskiq_plugin()
