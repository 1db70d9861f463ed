"""The default broker and the scheduler pods; a user's own broker replaces the default."""

from spakky.core.pod.annotations.lazy import Lazy
from spakky.core.pod.annotations.pod import Pod
from taskiq import AsyncBroker, TaskiqScheduler

from spakky.dispatch.core.adapter import Fallback
from spakky.dispatch.taskiq import SpakkyScheduleSource, TaskiqConfig, build_broker

DEFAULT_BROKER_POD_NAME = "spakky_taskiq_default_broker"
"""Pod name of the taskiq broker the plugin builds from ``TaskiqConfig``."""


@Fallback()
@Lazy()  # type: ignore[arg-type]  # Lazy is honoured on function pods too
@Pod(name=DEFAULT_BROKER_POD_NAME)
def default_taskiq_broker(config: TaskiqConfig) -> AsyncBroker:
    """Build the application's broker from ``SPAKKY_TASKIQ__*`` settings.

    Lazy and a ``@Fallback``: once the application registers an
    ``AsyncBroker`` pod of its own, that one is used and this one is never
    built (nor ``SPAKKY_TASKIQ__BROKER_URL`` needed).
    """
    return build_broker(config)


@Lazy()  # type: ignore[arg-type]  # Lazy is honoured on function pods too
@Pod()
def taskiq_scheduler(
    broker: AsyncBroker, source: SpakkyScheduleSource
) -> TaskiqScheduler:
    """taskiq's scheduler over the application's ``@schedule`` entries."""
    return TaskiqScheduler(broker, [source])
