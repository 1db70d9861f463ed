"""The measured Spakky application on taskiq (the spakky-taskiq plugin).

``raw_app`` is its baseline. Both read the same ``SPAKKY_TASKIQ__*``
environment and do the same work (``benchmarks.harness.work``). Worker
processes load it with
``spakky-taskiq worker benchmarks.taskiq.apps:plugin_app``.
"""

from spakky.core.application.application import SpakkyApplication
from taskiq import AsyncBroker

import spakky.plugins.taskiq
from benchmarks.harness.handler import BenchHandler
from benchmarks.harness.spakky_app import build_application


def build_taskiq_plugin(
    *, tracing: bool = False, auth: bool = False
) -> SpakkyApplication:
    """The Spakky application on taskiq; tracing / auth plugins on demand."""
    return build_application(
        spakky.plugins.taskiq.PLUGIN_NAME, BenchHandler, tracing=tracing, auth=auth
    )


def plugin_app() -> SpakkyApplication:
    """The worker's application (``spakky-taskiq worker`` loads it)."""
    return build_taskiq_plugin()


def worker_broker() -> AsyncBroker:
    """The plugin's broker, as a worker builds it (the start-up row's build)."""
    return build_taskiq_plugin().container.get(AsyncBroker)  # type: ignore[type-abstract]
