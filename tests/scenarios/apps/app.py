"""The scenario application: the same handlers with the Celery or the taskiq plugin.

Workers run it through each plugin's own command line, e.g.
``spakky-celery worker tests.scenarios.apps.app:celery_app`` or
``spakky-taskiq worker tests.scenarios.apps.app:taskiq_app``; ``celery -A
tests.scenarios.apps.app:celery`` serves its Celery app. It loads
spakky-tracing (W3C ``traceparent``) and spakky-cryptography (HS256 snapshot
signer and verifier, key ``SPAKKY_CRYPTOGRAPHY_SNAPSHOT_KEY``).

Two variants differ in their trace propagators only: ``<transport>_b3`` adds a
B3 propagator ordered before W3C; ``<transport>_untraced`` registers no
``ITracePropagator`` at all.
"""

from collections.abc import Callable
from functools import partial

import spakky.plugins.cryptography
from spakky.core.application.application import SpakkyApplication
from spakky.core.application.plugin import Plugin
from spakky.tracing import PLUGIN_NAME as TRACING_PLUGIN_NAME

from tests.scenarios.apps import handlers
from tests.scenarios.apps.b3 import B3SingleTracePropagator
from tests.support.apps import TRANSPORT_PLUGINS, celery_attributes
from tests.support.apps import build_app as build

VARIANTS = ("app", "b3", "untraced")
"""``app`` (W3C), ``b3`` (B3, then W3C) and ``untraced`` (no trace propagator)."""


def build_app(
    transport: str, variant: str = "app", *, signer: bool = True
) -> SpakkyApplication:
    """A started application on ``transport`` (``celery`` or ``taskiq``).

    Args:
        transport: The transport plugin to load.
        variant: One of ``VARIANTS``.
        signer: Load spakky-cryptography (snapshot signer and verifier).
    """
    plugins: set[Plugin] = set()
    if signer:
        plugins.add(spakky.plugins.cryptography.PLUGIN_NAME)
    if variant != "untraced":
        plugins.add(TRACING_PLUGIN_NAME)
    extra = (B3SingleTracePropagator,) if variant == "b3" else ()
    return build(transport, handlers, *extra, plugins=plugins)


def celery_app() -> SpakkyApplication:
    """The application on Celery (``SPAKKY_CELERY__*``)."""
    return build_app("celery")


def taskiq_app() -> SpakkyApplication:
    """The application on taskiq (``SPAKKY_TASKIQ__*``)."""
    return build_app("taskiq")


_celery = celery_attributes(celery=celery_app)


def __getattr__(name: str) -> object:
    """``celery`` (the Celery app) and the variants' factories, ``<transport>_<variant>``."""
    transport, _, variant = name.partition("_")
    if transport in TRANSPORT_PLUGINS and variant in VARIANTS:
        factory: Callable[[], SpakkyApplication] = partial(
            build_app, transport, variant
        )
        return factory
    return _celery(name)
