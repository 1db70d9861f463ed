"""The measured Spakky application on Celery (ours); ``raw_app`` is the
baseline, ``old_app`` the old distribution's.

Worker processes load it with ``-A benchmarks.celery.apps:plugin_celery``.
"""

from celery import Celery
from spakky.core.application.application import SpakkyApplication

import spakky.plugins.celery
from benchmarks.harness.handler import BenchHandler
from benchmarks.harness.spakky_app import build_application


def build_plugin(*, tracing: bool = False, auth: bool = False) -> SpakkyApplication:
    """The Spakky application on Celery; tracing / auth plugins on demand."""
    return build_application(
        spakky.plugins.celery.PLUGIN_NAME, BenchHandler, tracing=tracing, auth=auth
    )


def __getattr__(name: str) -> Celery:
    if name == "plugin_celery":
        return build_plugin().container.get(Celery)
    raise AttributeError(name)
