"""Plugin entry point: composes the core, the taskiq adapter and the aspects."""

from spakky.core.application.application import SpakkyApplication
from taskiq import AsyncBroker

from spakky.dispatch.auth import AUTH_COMPONENTS
from spakky.dispatch.core import CORE_COMPONENTS, ITaskSender
from spakky.dispatch.taskiq import (
    BrokerLoop,
    SpakkyScheduleSource,
    TaskiqConfig,
    TaskiqEndpointRegistrar,
    TaskiqScheduleRegistrar,
    TaskiqTaskSender,
)
from spakky.dispatch.tracing import TRACING_COMPONENTS
from spakky.plugins.taskiq.app import (
    TransportConflictError,
    default_taskiq_broker,
    taskiq_scheduler,
)
from spakky.plugins.taskiq.aspects import (
    AsyncTaskiqTaskDispatchAspect,
    TaskiqTaskDispatchAspect,
)
from spakky.plugins.taskiq.post_processor import TaskiqPostProcessor


def initialize(app: SpakkyApplication) -> None:
    """Register the spakky-taskiq components in ``app``.

    Raises:
        TransportConflictError: Another transport plugin (e.g. spakky-celery)
            was loaded into ``app`` already.
    """
    if app.container.contains(ITaskSender):
        raise TransportConflictError(
            "an ITaskSender is registered already (is spakky-celery loaded too?)"
        )
    for component in CORE_COMPONENTS:
        app.add(component)
    _add_taskiq_transport(app)
    for component in (*TRACING_COMPONENTS, *AUTH_COMPONENTS):
        app.add(component)
    for component in (
        TaskiqTaskDispatchAspect,
        AsyncTaskiqTaskDispatchAspect,
        TaskiqPostProcessor,
    ):
        app.add(component)


def _add_taskiq_transport(app: SpakkyApplication) -> None:
    app.add(TaskiqConfig)
    if not app.container.contains(AsyncBroker):
        app.add(default_taskiq_broker)
    for component in (
        BrokerLoop,
        TaskiqTaskSender,
        SpakkyScheduleSource,
        TaskiqScheduleRegistrar,
        TaskiqEndpointRegistrar,
        taskiq_scheduler,
    ):
        app.add(component)
