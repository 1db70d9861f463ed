"""Plugin entry point: composes the core, the Celery adapter and the aspects."""

from celery import Celery
from spakky.core.application.application import SpakkyApplication

from spakky.dispatch.auth import AUTH_COMPONENTS
from spakky.dispatch.celery import (
    CeleryConfig,
    CeleryEndpointRegistrar,
    CeleryScheduleRegistrar,
    CeleryTaskSender,
)
from spakky.dispatch.core import CORE_COMPONENTS
from spakky.dispatch.tracing import TRACING_COMPONENTS
from spakky.plugins.celery.app import default_celery_app
from spakky.plugins.celery.aspects import (
    AsyncCeleryTaskDispatchAspect,
    CeleryTaskDispatchAspect,
)
from spakky.plugins.celery.post_processor import CeleryPostProcessor


def initialize(app: SpakkyApplication) -> None:
    """Register the spakky-celery components in ``app``.

    The core, the Celery transport, trace propagation (workers run each task in
    a child span of the caller's trace, or a new root; ``traceparent`` is sent
    once an ``ITracePropagator`` such as spakky-tracing's W3C one is registered)
    and auth-snapshot propagation (protected tasks are enforced on the worker,
    fail-closed, whether or not the spakky-auth plugin is loaded).
    """
    for component in CORE_COMPONENTS:
        app.add(component)
    _add_celery_transport(app)
    for component in (*TRACING_COMPONENTS, *AUTH_COMPONENTS):
        app.add(component)
    for component in (
        CeleryTaskDispatchAspect,
        AsyncCeleryTaskDispatchAspect,
        CeleryPostProcessor,
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
