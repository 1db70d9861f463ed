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
    app.add(CeleryConfig)
    if not app.container.contains(Celery):
        app.add(default_celery_app)
    for component in (
        TaskRegistry,
        HeaderPropagation,
        TaskDispatcher,
        TaskInvoker,
        TaskRegistrar,
        CeleryTaskSender,
        CeleryScheduleRegistrar,
        CeleryEndpointRegistrar,
        CeleryTaskDispatchAspect,
        AsyncCeleryTaskDispatchAspect,
        CeleryPostProcessor,
    ):
        app.add(component)
