"""Applications of the trace end-to-end tests.

``-A tests.e2e.apps.tracing:celery`` runs with spakky-tracing's plugin (W3C
``traceparent``); ``:celery_b3`` adds a B3 propagator ordered before W3C;
``:celery_untraced`` registers no ``ITracePropagator``.
"""

from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext
from spakky.tracing import PLUGIN_NAME as TRACING_PLUGIN_NAME

import spakky.plugins.celery
from tests.e2e.apps import tracing_handlers
from tests.e2e.apps.tracing_formats import B3SingleTracePropagator
from tests.support.apps import celery_attributes

VARIANTS = ("traced", "b3", "untraced")


def build_app(variant: str = "traced") -> SpakkyApplication:
    """A fresh application from the current ``SPAKKY_CELERY__*`` environment.

    Args:
        variant: ``traced`` (W3C), ``b3`` (B3 and W3C) or ``untraced`` (none).
    """
    plugins = {spakky.plugins.celery.PLUGIN_NAME}
    if variant != "untraced":
        plugins.add(TRACING_PLUGIN_NAME)
    app = SpakkyApplication(ApplicationContext()).load_plugins(include=plugins)
    if variant == "b3":
        app.add(B3SingleTracePropagator)
    return app.scan(tracing_handlers).start()


__getattr__ = celery_attributes(
    celery=lambda: build_app("traced"),
    celery_b3=lambda: build_app("b3"),
    celery_untraced=lambda: build_app("untraced"),
)
