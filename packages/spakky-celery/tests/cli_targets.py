"""Objects the CLI tests point ``spakky-celery`` at."""

from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext

import spakky.plugins.celery

from . import plugin_handlers

NOT_AN_APP = 42


def build() -> SpakkyApplication:
    """A factory returning an application that is not started yet."""
    return (
        SpakkyApplication(ApplicationContext())
        .load_plugins(include={spakky.plugins.celery.PLUGIN_NAME})
        .scan(plugin_handlers)
    )


def needs_arguments(name: str) -> SpakkyApplication:
    """A factory the CLI cannot call."""
    raise AssertionError(name)
