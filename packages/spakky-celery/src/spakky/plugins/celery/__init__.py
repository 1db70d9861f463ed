"""spakky-celery: the Celery plugin for the Spakky Framework.

Load it with ``SpakkyApplication.load_plugins(include={PLUGIN_NAME})``.
"""

from spakky.core.application.plugin import Plugin

from spakky.plugins.celery.app import DEFAULT_CELERY_POD_NAME, default_celery_app
from spakky.plugins.celery.aspects import (
    AsyncCeleryTaskDispatchAspect,
    CeleryTaskDispatchAspect,
)
from spakky.plugins.celery.post_processor import CeleryPostProcessor

PLUGIN_NAME = Plugin(name="spakky-celery")
"""Identifier of this plugin for ``load_plugins(include=...)``."""

__all__ = [
    "DEFAULT_CELERY_POD_NAME",
    "PLUGIN_NAME",
    "AsyncCeleryTaskDispatchAspect",
    "CeleryPostProcessor",
    "CeleryTaskDispatchAspect",
    "default_celery_app",
]
