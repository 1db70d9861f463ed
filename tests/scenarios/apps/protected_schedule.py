"""An application with a protected @schedule method: it must refuse to start.

``-A tests.e2e.apps.auth_schedule:celery`` fails while loading, naming the method.
"""

from datetime import timedelta

import spakky.plugins.cryptography
from spakky.auth import require_role
from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext
from spakky.task import TaskHandler, schedule

import spakky.plugins.celery
from tests.support.apps import celery_attributes


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


__getattr__ = celery_attributes(celery=build_app)
