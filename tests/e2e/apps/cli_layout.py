"""A one-task application on either transport, for the command-line tests."""

from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext
from spakky.task import TaskHandler, task

import spakky.plugins.celery
import spakky.plugins.taskiq


@TaskHandler()
class Mailer:
    """One task."""

    @task
    def send(self, to: str) -> str:
        return to


def _build(plugin: object) -> SpakkyApplication:
    app = SpakkyApplication(ApplicationContext()).load_plugins(include={plugin})  # type: ignore[arg-type]
    return app.add(Mailer)


def celery_app() -> SpakkyApplication:
    """The application on Celery."""
    return _build(spakky.plugins.celery.PLUGIN_NAME)


def taskiq_app() -> SpakkyApplication:
    """The application on taskiq."""
    return _build(spakky.plugins.taskiq.PLUGIN_NAME)
