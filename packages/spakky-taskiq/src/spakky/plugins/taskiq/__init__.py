"""spakky-taskiq: the taskiq plugin for the Spakky Framework.

Load it with ``SpakkyApplication.load_plugins(include={PLUGIN_NAME})``; it runs
the same ``@TaskHandler`` code as any other transport plugin, on taskiq. An
application imports everything from here: the options of ``@task`` and
``@schedule`` methods, ``TaskDispatcher``, the result handle, the worker-side
task context and the errors (the core's ``spakky.dispatch.core``, re-exported),
plus ``TaskiqConfig``, ``TaskiqTaskResult``, the errors only taskiq raises, the
auth refusals a caller may catch and ``TraceScope``. Tests use
``spakky.plugins.taskiq.testing``.
"""

from spakky.core.application.plugin import Plugin

from spakky.dispatch.auth import (
    AbstractTaskAuthRefusedError,
    TaskAuthenticationRequiredError,
    TaskAuthorizationDeniedError,
    TaskAuthUnavailableError,
)
from spakky.dispatch.core import *  # noqa: F403  (the application authors' API)
from spakky.dispatch.core import __all__ as _application_api
from spakky.dispatch.core.adapter import HeaderBudgetExceededError
from spakky.dispatch.taskiq import (
    BrokerLoopBlockedError,
    BrokerLoopStoppedError,
    DeliveryRefusedError,
    TaskArgumentsMismatchError,
    TaskExpiredError,
    TaskiqConfig,
    TaskiqTaskResult,
    TaskResultNotSerializableError,
    UnsupportedDispatchOptionError,
    masked_url,
)
from spakky.dispatch.tracing import TraceScope
from spakky.plugins.taskiq.app import (
    DEFAULT_BROKER_POD_NAME,
    default_taskiq_broker,
    taskiq_scheduler,
)

PLUGIN_NAME = Plugin(name="spakky-taskiq")
"""Identifier of this plugin for ``load_plugins(include=...)``."""

__all__ = [
    *_application_api,
    "DEFAULT_BROKER_POD_NAME",
    "PLUGIN_NAME",
    "AbstractTaskAuthRefusedError",
    "BrokerLoopBlockedError",
    "BrokerLoopStoppedError",
    "DeliveryRefusedError",
    "HeaderBudgetExceededError",
    "TaskArgumentsMismatchError",
    "TaskAuthUnavailableError",
    "TaskAuthenticationRequiredError",
    "TaskAuthorizationDeniedError",
    "TaskExpiredError",
    "TaskResultNotSerializableError",
    "TaskiqConfig",
    "TaskiqTaskResult",
    "TraceScope",
    "UnsupportedDispatchOptionError",
    "default_taskiq_broker",
    "masked_url",
    "taskiq_scheduler",
]
