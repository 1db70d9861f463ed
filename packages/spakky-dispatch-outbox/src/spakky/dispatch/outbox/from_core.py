"""Every name this adapter takes from spakky-dispatch, in one place.

When the core's API is split by audience, only this module changes.
"""

from spakky.dispatch.core import (
    AbstractSpakkyDispatchError,
    BrokerUnavailableError,
    DispatchOptions,
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
)

__all__ = [
    "AbstractSpakkyDispatchError",
    "BrokerUnavailableError",
    "DispatchOptions",
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
]
