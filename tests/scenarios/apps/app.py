"""The scenario application: the same handlers with the Celery or the taskiq plugin.

Workers run it through each plugin's own command line, e.g.
``spakky-celery worker tests.scenarios.apps.app:celery_app`` or
``spakky-taskiq worker tests.scenarios.apps.app:taskiq_app``. Both also load
spakky-tracing (W3C ``traceparent``) and spakky-cryptography (HS256 snapshot
signer and verifier, key ``SPAKKY_CRYPTOGRAPHY_SNAPSHOT_KEY``).
"""

import spakky.plugins.cryptography
from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext
from spakky.core.application.plugin import Plugin
from spakky.tracing import PLUGIN_NAME as TRACING_PLUGIN_NAME

import spakky.plugins.celery
import spakky.plugins.taskiq
from tests.scenarios.apps import handlers

TRANSPORT_PLUGINS: dict[str, Plugin] = {
    "celery": spakky.plugins.celery.PLUGIN_NAME,
    "taskiq": spakky.plugins.taskiq.PLUGIN_NAME,
}
"""The only difference between the two applications: which plugin is loaded."""


def build_app(transport: str) -> SpakkyApplication:
    """A started application on ``transport`` (``celery`` or ``taskiq``)."""
    plugins = {
        TRANSPORT_PLUGINS[transport],
        TRACING_PLUGIN_NAME,
        spakky.plugins.cryptography.PLUGIN_NAME,
    }
    return (
        SpakkyApplication(ApplicationContext())
        .load_plugins(include=plugins)
        .scan(handlers)
        .start()
    )


def celery_app() -> SpakkyApplication:
    """The application on Celery (``SPAKKY_CELERY__*``)."""
    return build_app("celery")


def taskiq_app() -> SpakkyApplication:
    """The application on taskiq (``SPAKKY_TASKIQ__*``)."""
    return build_app("taskiq")
