"""An application with a protected @schedule method: it must refuse to start.

``spakky-celery worker tests.scenarios.apps.protected_schedule:celery_app`` (or
``spakky-taskiq worker ...:taskiq_app``) fails while loading, naming the method.
"""

from datetime import timedelta
from functools import partial

import spakky.plugins.cryptography
from spakky.auth import require_role
from spakky.task import TaskHandler, schedule

from tests.support.apps import build_app


@TaskHandler()
class LedgerMaintenance:
    """A scheduled job that asks for a role no scheduler tick can carry."""

    @require_role("ops")
    @schedule(interval=timedelta(seconds=1))
    def reconcile(self) -> None: ...


def _build(transport: str) -> object:
    """The application; ``start()`` raises ``ProtectedScheduleError``."""
    return build_app(
        transport,
        LedgerMaintenance,
        plugins={spakky.plugins.cryptography.PLUGIN_NAME},
    )


celery_app = partial(_build, "celery")
taskiq_app = partial(_build, "taskiq")
