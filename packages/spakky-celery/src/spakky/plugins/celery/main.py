"""Plugin entry point: composes the core, the Celery adapter and the context adapters."""

from spakky.core.application.application import SpakkyApplication

from spakky.dispatch.auth import AUTH_COMPONENTS
from spakky.dispatch.celery import (
    CeleryConfig,
    CeleryEndpointRegistrar,
    CeleryScheduleRegistrar,
    CeleryTaskSender,
)
from spakky.dispatch.core.adapter import add_transport
from spakky.dispatch.tracing import TRACING_COMPONENTS
from spakky.plugins.celery.app import default_celery_app


def initialize(app: SpakkyApplication) -> None:
    """Register the spakky-celery components in ``app``.

    The core, the Celery transport, trace propagation (workers run each task in
    a child span of the caller's trace, or a new root; ``traceparent`` is sent
    once an ``ITracePropagator`` such as spakky-tracing's W3C one is registered)
    and auth-snapshot propagation (protected tasks are enforced on the worker,
    fail-closed, whether or not the spakky-auth plugin is loaded).

    Raises:
        TransportConflictError: Another transport plugin was loaded already.
    """
    add_transport(
        app,
        (
            CeleryConfig,
            default_celery_app,
            CeleryTaskSender,
            CeleryScheduleRegistrar,
            CeleryEndpointRegistrar,
            *TRACING_COMPONENTS,
            *AUTH_COMPONENTS,
        ),
    )
