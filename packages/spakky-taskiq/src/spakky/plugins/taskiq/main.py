"""Plugin entry point: composes the core, the taskiq adapter and the context adapters."""

from spakky.core.application.application import SpakkyApplication

from spakky.dispatch.auth import AUTH_COMPONENTS
from spakky.dispatch.core.adapter import add_transport
from spakky.dispatch.taskiq import (
    BrokerLoop,
    SpakkyScheduleSource,
    TaskiqConfig,
    TaskiqEndpointRegistrar,
    TaskiqScheduleRegistrar,
    TaskiqTaskSender,
)
from spakky.dispatch.tracing import TRACING_COMPONENTS
from spakky.plugins.taskiq.app import default_taskiq_broker, taskiq_scheduler


def initialize(app: SpakkyApplication) -> None:
    """Register the spakky-taskiq components in ``app``.

    Raises:
        TransportConflictError: Another transport plugin was loaded already.
    """
    add_transport(
        app,
        (
            TaskiqConfig,
            default_taskiq_broker,
            BrokerLoop,
            TaskiqTaskSender,
            SpakkyScheduleSource,
            TaskiqScheduleRegistrar,
            TaskiqEndpointRegistrar,
            taskiq_scheduler,
            *TRACING_COMPONENTS,
            *AUTH_COMPONENTS,
        ),
    )
