"""``ITaskHandle``: the result handle every transport returns, and its rules.

``spakky.task``'s ``ITaskResult`` has ``get()`` and ``get_async()`` without
arguments; every handle of ours also takes a ``timeout`` and refuses, like
a task queue's usual guard, to wait inside a running task unless told otherwise.
"""

from abc import ABC, abstractmethod

from spakky.task.interfaces.task_result import ITaskResult

from spakky.dispatch.core.context import running_task
from spakky.dispatch.core.error import TaskResultTimeoutError, WaitInsideTaskError


class ITaskHandle[T](ITaskResult[T], ABC):
    """Handle on one dispatched task: its id and, with a result backend, its value."""

    @property
    @abstractmethod
    def task_id(self) -> str:
        """Identifier of the task message."""
        ...

    @abstractmethod
    def get(
        self, timeout: float | None = None, *, allow_inside_task: bool = False
    ) -> T:
        """Block until the task finishes and return its value.

        The task's own exception is raised when it failed.

        Args:
            timeout: Seconds to wait at most; None waits as long as it takes.
            allow_inside_task: Wait even when called inside a running task
                (see ``refuse_wait_inside_task`` for the deadlock it risks).

        Raises:
            WaitInsideTaskError: Called inside a running task without
                ``allow_inside_task``.
            TaskResultTimeoutError: The task did not finish within ``timeout``.
            TaskResultError: The result cannot be read.
        """
        ...

    @abstractmethod
    async def get_async(
        self, timeout: float | None = None, *, allow_inside_task: bool = False
    ) -> T:
        """Await the task's value without blocking the event loop.

        Same arguments and errors as ``get``.
        """
        ...


def refuse_wait_inside_task(task_id: str, *, allow_inside_task: bool) -> None:
    """Refuse to wait for ``task_id`` from inside a running worker-side task.

    A task that waits holds its worker slot while the task it waits for needs
    one; on a solo pool, or when every slot waits, nothing runs it and the
    wait ends only at the timeout. Handles call this before waiting.

    Raises:
        WaitInsideTaskError: The caller runs inside a task and did not pass
            ``allow_inside_task=True``.
    """
    if allow_inside_task:
        return
    execution = running_task()
    if execution is not None:
        raise WaitInsideTaskError(f"{execution.task.name} waited for task {task_id}")


def result_timeout(
    task_id: str, task_name: str | None, queue: str | None, timeout: float | None
) -> TaskResultTimeoutError:
    """The error for a task that did not finish in ``timeout`` seconds.

    It names the queue the task was sent to and asks whether a worker
    consumes it, the usual cause of a task that never finishes.
    """
    what = f"{task_name} ({task_id})" if task_name else task_id
    where = (
        f"is a worker consuming queue {queue!r}?"
        if queue
        else "is a worker consuming the task's queue?"
    )
    within = "" if timeout is None else f" within {timeout}s"
    return TaskResultTimeoutError(f"{what} did not finish{within}; {where}")
