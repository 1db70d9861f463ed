"""Plugin entry point: composes the core, the Celery adapter and the aspects."""

from celery import Celery
from spakky.auth.startup import auth_snapshot_propagation_config
from spakky.core.application.application import SpakkyApplication

from spakky.dispatch.auth import (
    AuthSnapshotPropagator,
    TaskAuthConfig,
    TaskAuthorizer,
    TaskAuthStartupValidationService,
)
from spakky.dispatch.celery import (
    CeleryConfig,
    CeleryEndpointRegistrar,
    CeleryScheduleRegistrar,
    CeleryTaskSender,
)
from spakky.dispatch.core import (
    HeaderPropagation,
    TaskDispatcher,
    TaskInvoker,
    TaskRegistrar,
    TaskRegistry,
)
from spakky.dispatch.tracing import TraceHeaderPropagator
from spakky.plugins.celery.app import default_celery_app
from spakky.plugins.celery.aspects import (
    AsyncCeleryTaskDispatchAspect,
    CeleryTaskDispatchAspect,
)
from spakky.plugins.celery.post_processor import CeleryPostProcessor


def initialize(app: SpakkyApplication) -> None:
    """Register the spakky-celery components in ``app``."""
    _add_core(app)
    _add_celery_transport(app)
    _add_trace_propagation(app)
    _add_auth_propagation(app)
    for component in (
        CeleryTaskDispatchAspect,
        AsyncCeleryTaskDispatchAspect,
        CeleryPostProcessor,
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


def _add_celery_transport(app: SpakkyApplication) -> None:
    app.add(CeleryConfig)
    if not app.container.contains(Celery):
        app.add(default_celery_app)
    for component in (
        CeleryTaskSender,
        CeleryScheduleRegistrar,
        CeleryEndpointRegistrar,
    ):
        app.add(component)


def _add_trace_propagation(app: SpakkyApplication) -> None:
    """Trace context in task headers (spakky-dispatch-tracing).

    The adapter is always added: workers then run every task in a child span of
    the caller's trace, or in a new root trace. It writes headers only through
    the ``ITracePropagator`` pods of the container, and the plugin registers
    none: add one (``spakky.tracing.PLUGIN_NAME`` brings ``W3CTracePropagator``)
    to send ``traceparent`` with each task.
    """
    app.add(TraceHeaderPropagator)


def _add_auth_propagation(app: SpakkyApplication) -> None:
    """Signed auth snapshots in task headers (spakky-dispatch-auth).

    Always added, so protected tasks are enforced on the worker, fail-closed,
    whether or not the spakky-auth plugin is loaded. Snapshots are sent only
    with ``SPAKKY_AUTH_SNAPSHOT_PROPAGATION_ENABLED=true`` (spakky-auth's own
    setting pod; re-adding it when spakky-auth is loaded too is a no-op) and
    signed/verified by the container's ``IAuthContextSnapshotSigner`` /
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
