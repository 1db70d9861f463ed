"""The one application builder of the test suites, and what worker modules need.

Every test application is a transport plugin, some more plugins and some
handler modules or pods: ``build_app("taskiq", handlers, plugins={...})``.
"""

from collections.abc import Callable, Iterable
from types import ModuleType

from celery import Celery
from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext
from spakky.core.application.plugin import Plugin

import spakky.plugins.celery
import spakky.plugins.taskiq

TRANSPORT_PLUGINS: dict[str, Plugin] = {
    "celery": spakky.plugins.celery.PLUGIN_NAME,
    "taskiq": spakky.plugins.taskiq.PLUGIN_NAME,
}
"""The plugin of each transport, by its name."""


def build_app(
    transport: str,
    *parts: ModuleType | object,
    plugins: Iterable[Plugin] = (),
    first: Iterable[object] = (),
    start: bool = True,
) -> SpakkyApplication:
    """An application on ``transport`` (``celery`` or ``taskiq``), from the environment.

    Args:
        transport: Which transport plugin to load.
        parts: Modules to scan and pods to add, in this order.
        plugins: Further plugins to load (tracing, cryptography, ...).
        first: Pods added before the plugins load, so they stand in for a
            plugin's default (a Celery app of one's own, say).
        start: Start the application (a command line's target starts it itself).
    """
    app = SpakkyApplication(ApplicationContext())
    for pod in first:
        app.add(pod)  # type: ignore[arg-type]
    app.load_plugins(include={TRANSPORT_PLUGINS[transport], *plugins})
    for part in parts:
        if isinstance(part, ModuleType):
            app.scan(part)
        else:
            app.add(part)  # type: ignore[arg-type]
    return app.start() if start else app


def celery_attributes(
    **targets: Callable[[], SpakkyApplication],
) -> Callable[[str], Celery]:
    """A module ``__getattr__`` serving each target's Celery app, built on first use.

    ``__getattr__ = celery_attributes(celery=build_app)`` lets a worker run
    ``-A package.module:celery`` while importing the module builds nothing.
    """
    built: dict[str, Celery] = {}

    def attribute(name: str) -> Celery:
        if name not in targets:
            raise AttributeError(name)
        if name not in built:
            built[name] = targets[name]().container.get(Celery)
        return built[name]

    return attribute
