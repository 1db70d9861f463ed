"""A one-task application on either transport, for the command-line tests."""

from spakky.core.application.application import SpakkyApplication
from spakky.task import TaskHandler, task

from tests.support.apps import build_app


@TaskHandler()
class Mailer:
    """One task."""

    @task
    def send(self, to: str) -> str:
        return to


def celery_app() -> SpakkyApplication:
    """The application on Celery (not started: the command line starts it)."""
    return build_app("celery", Mailer, start=False)


def taskiq_app() -> SpakkyApplication:
    """The application on taskiq (not started: the command line starts it)."""
    return build_app("taskiq", Mailer, start=False)
