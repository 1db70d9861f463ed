"""A protected task, for the aspect-order test."""

from spakky.auth import protected
from spakky.task import TaskHandler, task


@TaskHandler()
class ProtectedHandler:
    """One protected task, one open task."""

    @protected
    @task
    def secret(self) -> str:
        return "secret"

    @task
    def open(self) -> str:
        return "open"
