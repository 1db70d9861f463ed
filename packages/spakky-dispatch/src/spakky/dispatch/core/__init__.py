"""spakky-dispatch: the transport-agnostic core of Spakky task dispatch.

This module is what application authors use: the options of ``@task`` and
``@schedule`` methods, ``TaskDispatcher`` for typed sends, the result handle,
the worker-side task context, and the errors an application catches. A
transport plugin re-exports all of it, so an application imports from the
plugin it loads (``spakky.plugins.<transport>``).

Adapter authors (transports, context propagators) use
``spakky.dispatch.core.adapter``; tests use ``spakky.dispatch.core.testing``.
"""

from spakky.dispatch.core.context import (
    TASK_CONTEXT_KEY,
    TaskExecution,
    current_task_execution,
)
from spakky.dispatch.core.dispatcher import TaskDispatcher
from spakky.dispatch.core.error import (
    AbstractSpakkyDispatchError,
    BrokerConfigurationError,
    BrokerRejectedError,
    BrokerUnavailableError,
    InvalidDispatchOptionsError,
    InvalidScheduleRouteError,
    InvalidSettingsError,
    InvalidTaskDefinitionError,
    PublishUnconfirmedError,
    ResultBackendNotConfiguredError,
    ResultBackendUnavailableError,
    RetryableTaskError,
    TaskArgumentSerializationError,
    TaskArgumentsError,
    TaskDispatchError,
    TaskNotRegisteredError,
    TaskRefusedError,
    TaskResultError,
    TaskResultTimeoutError,
    WaitInsideTaskError,
)
from spakky.dispatch.core.handle import ITaskHandle
from spakky.dispatch.core.message import DispatchOptions
from spakky.dispatch.core.options import (
    RetryPolicy,
    dispatch_options,
    schedule_options,
    task_options,
)

__all__ = [
    "TASK_CONTEXT_KEY",
    "AbstractSpakkyDispatchError",
    "BrokerConfigurationError",
    "BrokerRejectedError",
    "BrokerUnavailableError",
    "DispatchOptions",
    "ITaskHandle",
    "InvalidDispatchOptionsError",
    "InvalidScheduleRouteError",
    "InvalidSettingsError",
    "InvalidTaskDefinitionError",
    "PublishUnconfirmedError",
    "ResultBackendNotConfiguredError",
    "ResultBackendUnavailableError",
    "RetryPolicy",
    "RetryableTaskError",
    "TaskArgumentSerializationError",
    "TaskArgumentsError",
    "TaskDispatchError",
    "TaskDispatcher",
    "TaskExecution",
    "TaskNotRegisteredError",
    "TaskRefusedError",
    "TaskResultError",
    "TaskResultTimeoutError",
    "WaitInsideTaskError",
    "current_task_execution",
    "dispatch_options",
    "schedule_options",
    "task_options",
]
