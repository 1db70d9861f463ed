"""spakky-dispatch: the transport-agnostic core of Spakky task dispatch.

Ports (``ITaskSender``, ``IAsyncTaskSender``, ``IHeaderPropagator``,
``IScheduleRegistrar``, ``ITaskEndpointRegistrar``), the task message, the
dispatch and invocation pipelines, neutral schedules and an in-memory sender.
It imports no transport, tracing or auth package.
"""

from spakky.dispatch.core.arguments import TaskSignature
from spakky.dispatch.core.aspects import AsyncTaskDispatchAspect, TaskDispatchAspect
from spakky.dispatch.core.binding import (
    TaskBinding,
    binding_notes,
    listing_line,
    task_name_for,
)
from spakky.dispatch.core.call import TaskCall
from spakky.dispatch.core.components import CORE_COMPONENTS
from spakky.dispatch.core.context import (
    TASK_CONTEXT_KEY,
    TaskExecution,
    current_task_execution,
    running_task,
)
from spakky.dispatch.core.dispatcher import TaskDispatcher
from spakky.dispatch.core.error import (
    AbstractSpakkyDispatchError,
    BrokerConfigurationError,
    BrokerUnavailableError,
    DuplicateTaskNameError,
    HeaderBudgetExceededError,
    HeaderPropagationError,
    InvalidDispatchOptionsError,
    InvalidScheduleRouteError,
    InvalidTaskDefinitionError,
    ResultBackendNotConfiguredError,
    ResultLookupUnsupportedError,
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
from spakky.dispatch.core.invoker import InvokerNotReadyError, TaskInvoker
from spakky.dispatch.core.loading import ApplicationNotFoundError, load_application
from spakky.dispatch.core.loop import EventLoopReentryError, EventLoopRunner
from spakky.dispatch.core.memory import (
    InMemoryTaskResult,
    InMemoryTaskSender,
    TaskNotRunError,
)
from spakky.dispatch.core.message import (
    DEFAULT_OPTIONS,
    DispatchOptions,
    TaskMessage,
    find_unencodable,
)
from spakky.dispatch.core.options import (
    RetryPolicy,
    ScheduleOptions,
    TaskOptions,
    call_options,
    dispatch_options,
    merge_options,
    schedule_options,
    task_options,
    validate_options,
)
from spakky.dispatch.core.ports import (
    IAsyncTaskSender,
    IHeaderPropagator,
    IScheduleRegistrar,
    ITaskEndpointRegistrar,
    ITaskSender,
    ITaskSenderDecorator,
)
from spakky.dispatch.core.propagation import HeaderPropagation, check_header_budget
from spakky.dispatch.core.registrar import TaskRegistrar
from spakky.dispatch.core.registry import TaskRegistry
from spakky.dispatch.core.schedule import (
    NO_ARGUMENTS,
    CrontabSchedule,
    DailySchedule,
    IntervalSchedule,
    ScheduledCall,
    ScheduleSpec,
    schedule_spec_from_route,
)
from spakky.dispatch.core.settings import describe_settings_errors

__all__ = [
    "CORE_COMPONENTS",
    "DEFAULT_OPTIONS",
    "NO_ARGUMENTS",
    "TASK_CONTEXT_KEY",
    "AbstractSpakkyDispatchError",
    "ApplicationNotFoundError",
    "AsyncTaskDispatchAspect",
    "BrokerConfigurationError",
    "BrokerUnavailableError",
    "CrontabSchedule",
    "DailySchedule",
    "DispatchOptions",
    "DuplicateTaskNameError",
    "EventLoopReentryError",
    "EventLoopRunner",
    "HeaderBudgetExceededError",
    "HeaderPropagation",
    "HeaderPropagationError",
    "IAsyncTaskSender",
    "IHeaderPropagator",
    "IScheduleRegistrar",
    "ITaskEndpointRegistrar",
    "ITaskHandle",
    "ITaskSender",
    "ITaskSenderDecorator",
    "InMemoryTaskResult",
    "InMemoryTaskSender",
    "IntervalSchedule",
    "InvalidDispatchOptionsError",
    "InvalidScheduleRouteError",
    "InvalidTaskDefinitionError",
    "InvokerNotReadyError",
    "ResultBackendNotConfiguredError",
    "ResultLookupUnsupportedError",
    "RetryPolicy",
    "RetryableTaskError",
    "ScheduleOptions",
    "ScheduleSpec",
    "ScheduledCall",
    "TaskArgumentSerializationError",
    "TaskArgumentsError",
    "TaskBinding",
    "TaskCall",
    "TaskDispatchAspect",
    "TaskDispatchError",
    "TaskDispatcher",
    "TaskExecution",
    "TaskInvoker",
    "TaskMessage",
    "TaskNotRegisteredError",
    "TaskNotRunError",
    "TaskOptions",
    "TaskRefusedError",
    "TaskRegistrar",
    "TaskRegistry",
    "TaskResultError",
    "TaskResultTimeoutError",
    "TaskSignature",
    "WaitInsideTaskError",
    "binding_notes",
    "call_options",
    "check_header_budget",
    "current_task_execution",
    "describe_settings_errors",
    "dispatch_options",
    "find_unencodable",
    "listing_line",
    "load_application",
    "merge_options",
    "running_task",
    "schedule_options",
    "schedule_spec_from_route",
    "task_name_for",
    "task_options",
    "validate_options",
]
