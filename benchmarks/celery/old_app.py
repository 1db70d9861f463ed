"""spakky-celery 8.5.0's application: runs only in the old distribution's environment.

The same handler, plugins loaded the same way, and the Celery settings of
ours copied onto the Celery app the old plugin builds (8.5.0 has no settings
for them), as the raw app does. Workers load it with
``-A benchmarks.celery.old_app:old_celery``.
"""

from celery import Celery
from spakky.core.application.application import SpakkyApplication

import spakky.plugins.celery
from benchmarks.celery.settings import apply_copied
from benchmarks.harness.handler import BenchHandler
from benchmarks.harness.spakky_app import build_application


def build_old(*, tracing: bool = False, auth: bool = False) -> SpakkyApplication:
    """The old distribution's application; tracing / auth plugins on demand."""
    app = build_application(
        spakky.plugins.celery.PLUGIN_NAME, BenchHandler, tracing=tracing, auth=auth
    )
    apply_copied(app.container.get(Celery))
    return app


def __getattr__(name: str) -> Celery:
    if name == "old_celery":
        return build_old().container.get(Celery)
    raise AttributeError(name)
