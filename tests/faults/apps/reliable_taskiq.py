"""The fault suite's application on taskiq: ``spakky-taskiq worker tests.faults.apps.reliable_taskiq:app``.

The same handlers as ``reliable`` (Celery), with the spakky-taskiq plugin and
spakky-cryptography's snapshot verifier, configured from ``SPAKKY_TASKIQ__*``.
"""

import spakky.plugins.cryptography
from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext

import spakky.plugins.taskiq
from tests.faults.apps import reliable_handlers


def app() -> SpakkyApplication:
    """A fresh application from the current environment."""
    return (
        SpakkyApplication(ApplicationContext())
        .load_plugins(
            include={
                spakky.plugins.taskiq.PLUGIN_NAME,
                spakky.plugins.cryptography.PLUGIN_NAME,
            }
        )
        .scan(reliable_handlers)
        .start()
    )
