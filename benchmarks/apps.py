"""The measured Spakky application (the plugin); ``raw_app`` is the baseline.

Both are built from the same ``SPAKKY_CELERY__*`` environment with the same
``build_celery_app`` settings, and do the same work. Worker processes load them
with ``-A benchmarks.apps:plugin_celery``.
"""

from celery import Celery
from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext
from spakky.task import TaskHandler, task

import spakky.plugins.celery
from benchmarks.work import awork, tick, work


@TaskHandler()
class BenchHandler:
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


def build_plugin(*, tracing: bool = False, auth: bool = False) -> SpakkyApplication:
    """The Spakky application; tracing / auth plugins on demand.

    Their modules are imported only when asked for, as an application that does
    not use them would not import them (the idle-RSS row loads no other).
    """
    plugins = {spakky.plugins.celery.PLUGIN_NAME}
    if tracing:
        from spakky.tracing import PLUGIN_NAME as TRACING_PLUGIN_NAME

        plugins.add(TRACING_PLUGIN_NAME)
    if auth:
        from spakky.plugins.cryptography import PLUGIN_NAME as CRYPTOGRAPHY

        plugins.add(CRYPTOGRAPHY)
    app = SpakkyApplication(ApplicationContext()).load_plugins(include=plugins)
    return app.add(BenchHandler).start()


def __getattr__(name: str) -> Celery:
    if name == "plugin_celery":
        return build_plugin().container.get(Celery)
    raise AttributeError(name)
