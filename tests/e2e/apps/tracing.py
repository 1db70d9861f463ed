"""Applications of the trace end-to-end tests.

``-A tests.e2e.apps.tracing:celery`` runs with spakky-tracing's plugin (W3C
``traceparent``); ``:celery_b3`` adds a B3 propagator ordered before W3C;
``:celery_untraced`` registers no ``ITracePropagator``.
"""

from functools import cache

from celery import Celery
from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext
from spakky.tracing import PLUGIN_NAME as TRACING_PLUGIN_NAME

import spakky.plugins.celery
from tests.e2e.apps import tracing_handlers
from tests.e2e.apps.tracing_formats import B3SingleTracePropagator

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


@cache
def _celery(variant: str) -> Celery:
    return build_app(variant).container.get(Celery)


def __getattr__(name: str) -> Celery:
    targets = {"celery": "traced", "celery_b3": "b3", "celery_untraced": "untraced"}
    if name in targets:
        return _celery(targets[name])
    raise AttributeError(name)
