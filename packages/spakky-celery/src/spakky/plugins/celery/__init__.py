"""spakky-celery: the Celery plugin for the Spakky Framework.

Load it with ``SpakkyApplication.load_plugins(include={PLUGIN_NAME})``. An
application imports everything from here: the options of ``@task`` and
``@schedule`` methods, ``TaskDispatcher``, the result handle, the worker-side
task context and the errors (the core's ``spakky.dispatch.core``, re-exported),
plus ``CeleryConfig``, ``CeleryTaskResult``, the auth refusals a caller may
catch and ``TraceScope``. Tests use ``spakky.plugins.celery.testing``.
"""

from spakky.core.application.plugin import Plugin

from spakky.dispatch.auth import (
    AbstractTaskAuthRefusedError,
    TaskAuthenticationRequiredError,
    TaskAuthorizationDeniedError,
    TaskAuthUnavailableError,
)
from spakky.dispatch.celery import (
    CeleryConfig,
    CeleryTaskResult,
    UnknownQueueError,
    masked_url,
)
from spakky.dispatch.core import *  # noqa: F403  (the application authors' API)
from spakky.dispatch.core import __all__ as _application_api
from spakky.dispatch.core.adapter import HeaderBudgetExceededError
from spakky.dispatch.core.adapter import (
    TaskRegistrationPostProcessor as CeleryPostProcessor,
)
from spakky.dispatch.core.aspects import (
    AsyncTaskDispatchAspect as AsyncCeleryTaskDispatchAspect,
)
from spakky.dispatch.core.aspects import (
    TaskDispatchAspect as CeleryTaskDispatchAspect,
)
from spakky.dispatch.tracing import TraceScope
from spakky.plugins.celery.app import DEFAULT_CELERY_POD_NAME, default_celery_app

PLUGIN_NAME = Plugin(name="spakky-celery")
"""Identifier of this plugin for ``load_plugins(include=...)``."""

__all__ = [
    *_application_api,
    "DEFAULT_CELERY_POD_NAME",
    "PLUGIN_NAME",
    "AbstractTaskAuthRefusedError",
    "AsyncCeleryTaskDispatchAspect",
    "CeleryConfig",
    "CeleryPostProcessor",
    "CeleryTaskDispatchAspect",
    "CeleryTaskResult",
    "HeaderBudgetExceededError",
    "TaskAuthUnavailableError",
    "TaskAuthenticationRequiredError",
    "TaskAuthorizationDeniedError",
    "TraceScope",
    "UnknownQueueError",
    "default_celery_app",
    "masked_url",
]
