"""spakky-taskiq: the taskiq plugin for the Spakky Framework.

Load it with ``SpakkyApplication.load_plugins(include={PLUGIN_NAME})``. It runs
the same ``@TaskHandler`` code as spakky-celery, on taskiq.
"""

from spakky.core.application.plugin import Plugin

from spakky.plugins.taskiq.app import (
    DEFAULT_BROKER_POD_NAME,
    TransportConflictError,
    default_taskiq_broker,
    taskiq_scheduler,
)
from spakky.plugins.taskiq.aspects import (
    AsyncTaskiqTaskDispatchAspect,
    TaskiqTaskDispatchAspect,
)
from spakky.plugins.taskiq.post_processor import TaskiqPostProcessor

PLUGIN_NAME = Plugin(name="spakky-taskiq")
"""Identifier of this plugin for ``load_plugins(include=...)``."""

__all__ = [
    "DEFAULT_BROKER_POD_NAME",
    "PLUGIN_NAME",
    "AsyncTaskiqTaskDispatchAspect",
    "TaskiqPostProcessor",
    "TaskiqTaskDispatchAspect",
    "TransportConflictError",
    "default_taskiq_broker",
    "taskiq_scheduler",
]
