"""Every name this adapter takes from spakky-dispatch, in one place."""

from spakky.dispatch.core.adapter import (
    NO_HEADER_LIMITS,
    AbstractSpakkyDispatchError,
    BrokerUnavailableError,
    DispatchOptions,
    HeaderLimits,
    IAsyncTaskSender,
    ITaskHandle,
    ITaskSender,
    ITaskSenderDecorator,
    ResultLookupUnsupportedError,
    TaskArgumentSerializationError,
    TaskDispatchError,
    TaskMessage,
    TaskResultError,
    find_unencodable,
    reporting_settings_errors,
)

__all__ = [
    "NO_HEADER_LIMITS",
    "AbstractSpakkyDispatchError",
    "BrokerUnavailableError",
    "DispatchOptions",
    "HeaderLimits",
    "IAsyncTaskSender",
    "ITaskHandle",
    "ITaskSender",
    "ITaskSenderDecorator",
    "ResultLookupUnsupportedError",
    "TaskArgumentSerializationError",
    "TaskDispatchError",
    "TaskMessage",
    "TaskResultError",
    "find_unencodable",
    "reporting_settings_errors",
]
