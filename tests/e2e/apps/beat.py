"""Application with schedules: ``-A tests.e2e.apps.beat:celery``."""

from functools import cache

from celery import Celery
from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext

import spakky.plugins.celery
from tests.e2e.apps import beat_handlers


def build_app() -> SpakkyApplication:
    """A fresh application from the current ``SPAKKY_CELERY__*`` environment."""
    return (
        SpakkyApplication(ApplicationContext())
        .load_plugins(include={spakky.plugins.celery.PLUGIN_NAME})
        .scan(beat_handlers)
        .start()
    )


@cache
def _celery() -> Celery:
    return build_app().container.get(Celery)


def __getattr__(name: str) -> Celery:
    if name == "celery":
        return _celery()
    raise AttributeError(name)
