"""Application with schedules: ``-A tests.e2e.apps.beat:celery``."""

from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext

import spakky.plugins.celery
from tests.e2e.apps import beat_handlers
from tests.support.apps import celery_attributes


def build_app() -> SpakkyApplication:
    """A fresh application from the current ``SPAKKY_CELERY__*`` environment."""
    return (
        SpakkyApplication(ApplicationContext())
        .load_plugins(include={spakky.plugins.celery.PLUGIN_NAME})
        .scan(beat_handlers)
        .start()
    )


__getattr__ = celery_attributes(celery=build_app)
