"""What adapter authors use: ports, values, the core's pods and shared helpers.

A transport implements ``ITaskSender`` (declaring its ``HeaderLimits``),
``IScheduleRegistrar`` and ``ITaskEndpointRegistrar``, reads its settings
inside ``reporting_settings_errors``, and composes itself with
``add_transport``; a context adapter implements ``IHeaderPropagator``; a
wrapping adapter ``ITaskSenderDecorator``. Everything of the application
authors' API (``spakky.dispatch.core``) is here too, so an adapter imports from
this one module. The shared command line is ``spakky.dispatch.core.cli``.
"""

from spakky.dispatch.core import *  # noqa: F403  (the application authors' API)
from spakky.dispatch.core import __all__ as _application_api
from spakky.dispatch.core.binding import TaskBinding, task_name_for
from spakky.dispatch.core.call import TaskCall
from spakky.dispatch.core.components import CORE_COMPONENTS
from spakky.dispatch.core.diagnosis import configuration_problem, error_chain
from spakky.dispatch.core.endpoint import named_after, refuse_foreign_task
from spakky.dispatch.core.error import (
    DuplicateTaskNameError,
    HeaderBudgetExceededError,
    HeaderPropagationError,
    ReservedHeaderError,
    ResultLookupUnsupportedError,
    TransportConflictError,
)
from spakky.dispatch.core.fast_path import (
    FallbackWarning,
    changed_checks,
    source_digest,
    source_text,
)
from spakky.dispatch.core.handle import (
    AbstractTaskHandle,
    SentTo,
    poll_pauses,
    refuse_wait_inside_task,
    result_timeout,
)
from spakky.dispatch.core.invoker import InvokerNotReadyError, TaskInvoker
from spakky.dispatch.core.limits import (
    DEFAULT_MAX_HEADER_BYTES,
    NO_HEADER_LIMITS,
    HeaderLimits,
)
from spakky.dispatch.core.logtext import LOG_FIELD_LIMIT, printable
from spakky.dispatch.core.loop import EventLoopReentryError, EventLoopRunner
from spakky.dispatch.core.message import DEFAULT_OPTIONS, TaskMessage, find_unencodable
from spakky.dispatch.core.ports import (
    IAsyncTaskSender,
    IHeaderPropagator,
    IScheduleRegistrar,
    ITaskEndpointRegistrar,
    ITaskSender,
    ITaskSenderDecorator,
)
from spakky.dispatch.core.propagation import HeaderPropagation
from spakky.dispatch.core.registrar import TaskRegistrar
from spakky.dispatch.core.registry import TaskRegistry
from spakky.dispatch.core.schedule import (
    NO_ARGUMENTS,
    CrontabSchedule,
    DailySchedule,
    IntervalSchedule,
    ScheduledCall,
    ScheduleSpec,
    cron_fields,
    cron_weekday,
)
from spakky.dispatch.core.settings import check_timezone, reporting_settings_errors
from spakky.dispatch.core.startup import (
    Fallback,
    TaskRegistrationPostProcessor,
    add_transport,
    prefer_user_pod,
)

__all__ = [
    *_application_api,
    "CORE_COMPONENTS",
    "AbstractTaskHandle",
    "DEFAULT_MAX_HEADER_BYTES",
    "DEFAULT_OPTIONS",
    "LOG_FIELD_LIMIT",
    "NO_ARGUMENTS",
    "NO_HEADER_LIMITS",
    "CrontabSchedule",
    "DailySchedule",
    "DuplicateTaskNameError",
    "EventLoopReentryError",
    "EventLoopRunner",
    "Fallback",
    "FallbackWarning",
    "HeaderBudgetExceededError",
    "HeaderLimits",
    "HeaderPropagation",
    "HeaderPropagationError",
    "IAsyncTaskSender",
    "IHeaderPropagator",
    "IScheduleRegistrar",
    "ITaskEndpointRegistrar",
    "ITaskSender",
    "ITaskSenderDecorator",
    "IntervalSchedule",
    "InvokerNotReadyError",
    "ReservedHeaderError",
    "ResultLookupUnsupportedError",
    "ScheduleSpec",
    "ScheduledCall",
    "SentTo",
    "TaskBinding",
    "TaskCall",
    "TaskInvoker",
    "TaskMessage",
    "TaskRegistrar",
    "TaskRegistrationPostProcessor",
    "TaskRegistry",
    "TransportConflictError",
    "add_transport",
    "changed_checks",
    "check_timezone",
    "configuration_problem",
    "cron_fields",
    "cron_weekday",
    "error_chain",
    "find_unencodable",
    "named_after",
    "poll_pauses",
    "prefer_user_pod",
    "printable",
    "refuse_foreign_task",
    "refuse_wait_inside_task",
    "reporting_settings_errors",
    "result_timeout",
    "source_digest",
    "source_text",
    "task_name_for",
]
