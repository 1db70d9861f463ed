"""A protected @schedule method: the application must refuse to start."""

from datetime import timedelta

from spakky.auth import require_role
from spakky.task import TaskHandler, schedule


@TaskHandler()
class Ledger:
    """A scheduled job that asks for a role no scheduler tick can carry."""

    @require_role("ops")
    @schedule(interval=timedelta(seconds=10))
    def reconcile(self) -> None: ...
