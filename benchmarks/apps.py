"""The measured Spakky application (the plugin); ``raw_app`` is the baseline.

Both are built from the same ``SPAKKY_CELERY__*`` environment with the same
``build_celery_app`` settings, and do the same work. Worker processes load them
with ``-A benchmarks.apps:plugin_celery``.
"""

from celery import Celery
from spakky.core.application.application import SpakkyApplication
from spakky.task import TaskHandler, task

import spakky.plugins.celery
from benchmarks.spakky_app import build_application
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
    """The Spakky application on Celery; tracing / auth plugins on demand."""
    return build_application(
        spakky.plugins.celery.PLUGIN_NAME, BenchHandler, tracing=tracing, auth=auth
    )


def __getattr__(name: str) -> Celery:
    if name == "plugin_celery":
        return build_plugin().container.get(Celery)
    raise AttributeError(name)
