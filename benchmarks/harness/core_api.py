"""Every name the benchmarks take from the dispatch core's internals, in one place.

Transport-author names (ports, messages, bindings, registries, the invoker,
the in-memory sender) are imported here only, so a move of the core's API
changes this file alone.
"""

from spakky.dispatch.core.adapter import (
    CORE_COMPONENTS,
    HeaderPropagation,
    IHeaderPropagator,
    IScheduleRegistrar,
    ITaskEndpointRegistrar,
    ITaskHandle,
    ITaskSender,
    ScheduledCall,
    ScheduleSpec,
    TaskBinding,
    TaskCall,
    TaskDispatcher,
    TaskInvoker,
    TaskMessage,
    TaskRegistrar,
    TaskRegistry,
)
from spakky.dispatch.core.testing import InMemoryTaskSender

__all__ = [
    "CORE_COMPONENTS",
    "HeaderPropagation",
    "IHeaderPropagator",
    "IScheduleRegistrar",
    "ITaskEndpointRegistrar",
    "ITaskHandle",
    "ITaskSender",
    "InMemoryTaskSender",
    "ScheduleSpec",
    "ScheduledCall",
    "TaskBinding",
    "TaskCall",
    "TaskDispatcher",
    "TaskInvoker",
    "TaskMessage",
    "TaskRegistrar",
    "TaskRegistry",
]
