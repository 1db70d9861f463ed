"""The application of the fault-injection suite: ``-A tests.faults.apps.reliable:celery``.

The spakky-celery plugin and spakky-cryptography's snapshot verifier (key:
``SPAKKY_CRYPTOGRAPHY_SNAPSHOT_KEY``), configured from ``SPAKKY_CELERY__*``.
"""

from functools import cache

import spakky.plugins.cryptography
from celery import Celery
from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext

import spakky.plugins.celery
from tests.faults.apps import reliable_handlers


def build_app() -> SpakkyApplication:
    """A fresh application from the current environment."""
    return (
        SpakkyApplication(ApplicationContext())
        .load_plugins(
            include={
                spakky.plugins.celery.PLUGIN_NAME,
                spakky.plugins.cryptography.PLUGIN_NAME,
            }
        )
        .scan(reliable_handlers)
        .start()
    )


@cache
def _celery() -> Celery:
    return build_app().container.get(Celery)


def __getattr__(name: str) -> Celery:
    if name == "celery":
        return _celery()
    raise AttributeError(name)
