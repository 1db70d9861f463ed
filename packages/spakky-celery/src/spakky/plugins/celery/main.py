"""Plugin entry point: composes the core, the Celery adapter and the aspects."""

from celery import Celery
from spakky.core.application.application import SpakkyApplication

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
    """Trace context in task headers (spakky-dispatch-tracing)."""


def _add_auth_propagation(app: SpakkyApplication) -> None:
    """Signed auth snapshots in task headers (spakky-dispatch-auth)."""
