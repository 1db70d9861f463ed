"""The worker-context marker kept in the application's context scope."""

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
