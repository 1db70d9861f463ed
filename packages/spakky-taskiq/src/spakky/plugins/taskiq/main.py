"""Plugin entry point: composes the core, the taskiq adapter and the aspects."""

from spakky.auth.startup import auth_snapshot_propagation_config
from spakky.core.application.application import SpakkyApplication
from taskiq import AsyncBroker

from spakky.dispatch.auth import (
    AuthSnapshotPropagator,
    TaskAuthConfig,
    TaskAuthorizer,
    TaskAuthStartupValidationService,
)
from spakky.dispatch.core import (
    HeaderPropagation,
    ITaskSender,
    TaskDispatcher,
    TaskInvoker,
    TaskRegistrar,
    TaskRegistry,
)
from spakky.dispatch.taskiq import (
    BrokerLoop,
    SpakkyScheduleSource,
    TaskiqConfig,
    TaskiqEndpointRegistrar,
    TaskiqScheduleRegistrar,
    TaskiqTaskSender,
)
from spakky.dispatch.tracing import TraceHeaderPropagator
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
    _add_core(app)
    _add_taskiq_transport(app)
    _add_trace_propagation(app)
    _add_auth_propagation(app)
    for component in (
        TaskiqTaskDispatchAspect,
        AsyncTaskiqTaskDispatchAspect,
        TaskiqPostProcessor,
    ):
        app.add(component)


def _add_core(app: SpakkyApplication) -> None:
    for component in (
        TaskRegistry,
        HeaderPropagation,
        TaskDispatcher,
        TaskInvoker,
        TaskRegistrar,
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


def _add_trace_propagation(app: SpakkyApplication) -> None:
    """Trace context in task labels (spakky-dispatch-tracing), as spakky-celery does.

    Workers run every task in a child span of the caller's trace, or in a new
    root trace. Headers are written only by the container's ``ITracePropagator``
    pods; add one (``spakky.tracing.PLUGIN_NAME`` brings ``W3CTracePropagator``).
    """
    app.add(TraceHeaderPropagator)


def _add_auth_propagation(app: SpakkyApplication) -> None:
    """Signed auth snapshots in task labels (spakky-dispatch-auth), as spakky-celery does.

    Protected tasks are enforced on the worker, fail-closed. Snapshots are sent
    only with ``SPAKKY_AUTH_SNAPSHOT_PROPAGATION_ENABLED=true`` and signed and
    verified by the container's ``IAuthContextSnapshotSigner`` /
    ``IAuthContextSnapshotVerifier`` (e.g. the spakky-cryptography plugin).
    """
    app.add(auth_snapshot_propagation_config)
    for component in (
        TaskAuthConfig,
        TaskAuthorizer,
        AuthSnapshotPropagator,
        TaskAuthStartupValidationService,
    ):
        app.add(component)
