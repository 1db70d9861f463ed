"""Targets for the CLI tests: an application, factories, and things that are not."""

from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext

import spakky.plugins.taskiq

from . import plugin_handlers


def factory() -> SpakkyApplication:
    """A fresh, unstarted application with the handlers."""
    return (
        SpakkyApplication(ApplicationContext())
        .load_plugins(include={spakky.plugins.taskiq.PLUGIN_NAME})
        .scan(plugin_handlers)
    )


def needs_arguments(name: str) -> SpakkyApplication:
    """A factory the CLI cannot call."""
    raise AssertionError(name)


_started: list[SpakkyApplication] = []


def started() -> SpakkyApplication:
    """The same application, started on first use."""
    if not _started:
        _started.append(factory().start())
    return _started[0]


NOT_AN_APP = 42

namespace = type("Namespace", (), {"factory": staticmethod(factory)})
