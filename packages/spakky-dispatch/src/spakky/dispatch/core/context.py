"""The worker-context marker kept in the application's context scope."""

from contextvars import ContextVar
from dataclasses import dataclass

from spakky.core.pod.interfaces.application_context import IApplicationContext

from spakky.dispatch.core.binding import TaskBinding

TASK_CONTEXT_KEY = "spakky.dispatch.task_context"
"""Context-scope key set while a worker executes a task."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskExecution:
    """What the worker is executing in the current context scope."""

    task: TaskBinding
    """The task being executed."""

    task_id: str | None
    """Identifier of the message being executed, when the transport gives one."""


def current_task_execution(
    application_context: IApplicationContext,
) -> TaskExecution | None:
    """Return the task the current context scope is executing, or None.

    None means the caller is not inside a worker-side task execution, so
    ``@task`` calls are sent to the broker.
    """
    value = application_context.get_context_value(TASK_CONTEXT_KEY)
    return value if isinstance(value, TaskExecution) else None


_RUNNING: ContextVar[TaskExecution | None] = ContextVar(
    "spakky.dispatch.running_task", default=None
)


def mark_running(execution: TaskExecution) -> None:
    """Record that the current ``contextvars`` context executes ``execution``.

    The invoker calls it beside setting ``TASK_CONTEXT_KEY``, inside the
    context of its own that each task runs in, so the mark ends with the task.
    """
    _RUNNING.set(execution)


def running_task() -> TaskExecution | None:
    """The worker-side task the caller runs inside, in any application, or None.

    Unlike ``current_task_execution`` it needs no application context, so a
    result handle can ask it (waiting inside a task is refused).
    """
    return _RUNNING.get()
