"""The default broker and scheduler pods, and how a user's own broker replaces them."""

from spakky.core.pod.annotations.lazy import Lazy
from spakky.core.pod.annotations.pod import Pod
from spakky.core.pod.interfaces.application_context import IApplicationContext
from taskiq import AsyncBroker, TaskiqScheduler

from spakky.dispatch.core import AbstractSpakkyDispatchError, ITaskSender
from spakky.dispatch.core.startup import prefer_user_pod
from spakky.dispatch.taskiq import SpakkyScheduleSource, TaskiqConfig, build_broker

DEFAULT_BROKER_POD_NAME = "spakky_taskiq_default_broker"
"""Pod name of the taskiq broker the plugin builds from ``TaskiqConfig``."""


class TransportConflictError(AbstractSpakkyDispatchError):
    """Two transport plugins were loaded into one application."""

    message = (
        "More than one task transport is loaded into this application; load one "
        "transport plugin, e.g. load_plugins(include={spakky.plugins.taskiq."
        "PLUGIN_NAME}) instead of load_plugins()"
    )


@Lazy()  # type: ignore[arg-type]  # Lazy is honoured on function pods too
@Pod(name=DEFAULT_BROKER_POD_NAME)
def default_taskiq_broker(config: TaskiqConfig) -> AsyncBroker:
    """Build the application's broker from ``SPAKKY_TASKIQ__*`` settings."""
    return build_broker(config)


@Lazy()  # type: ignore[arg-type]  # Lazy is honoured on function pods too
@Pod()
def taskiq_scheduler(
    broker: AsyncBroker, source: SpakkyScheduleSource
) -> TaskiqScheduler:
    """taskiq's scheduler over the application's ``@schedule`` entries."""
    return TaskiqScheduler(broker, [source])


def prefer_user_broker(application_context: IApplicationContext) -> None:
    """Make an ``AsyncBroker`` pod registered by the user win over the default one.

    With exactly one user pod, ``AsyncBroker`` is bound to it; with several, the
    user's ``@Primary`` decides as usual. The default pod is lazy, so it is never
    built (and ``SPAKKY_TASKIQ__BROKER_URL`` never needed) once a user pod exists.
    """
    prefer_user_pod(application_context, AsyncBroker, DEFAULT_BROKER_POD_NAME)


def refuse_second_transport(application_context: IApplicationContext) -> None:
    """Fail clearly when another transport plugin registered a sender too.

    Raises:
        TransportConflictError: More than one ``ITaskSender`` pod is registered.
    """
    senders = sorted(
        f"{pod.type_.__module__}.{pod.type_.__qualname__}"
        for pod in application_context.pods.values()
        if pod.is_family_with(ITaskSender)
    )
    if len(senders) > 1:
        raise TransportConflictError(f"task senders: {', '.join(senders)}")
