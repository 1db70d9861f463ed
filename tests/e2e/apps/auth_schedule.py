"""An application with a protected @schedule method: it must refuse to start.

``-A tests.e2e.apps.auth_schedule:celery`` fails while loading, naming the method.
"""

from datetime import timedelta
from functools import cache

import spakky.plugins.cryptography
from celery import Celery
from spakky.auth import require_role
from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext
from spakky.task import TaskHandler, schedule

import spakky.plugins.celery


@TaskHandler()
class LedgerMaintenance:
    """A scheduled job that asks for a role no beat tick can carry."""

    @require_role("ops")
    @schedule(interval=timedelta(seconds=1))
    def reconcile(self) -> None: ...


def build_app() -> SpakkyApplication:
    """The application; ``start()`` raises ``ProtectedScheduleError``."""
    return (
        SpakkyApplication(ApplicationContext())
        .load_plugins(
            include={
                spakky.plugins.celery.PLUGIN_NAME,
                spakky.plugins.cryptography.PLUGIN_NAME,
            }
        )
        .add(LedgerMaintenance)
        .start()
    )


@cache
def _celery() -> Celery:
    return build_app().container.get(Celery)


def __getattr__(name: str) -> Celery:
    if name == "celery":
        return _celery()
    raise AttributeError(name)
