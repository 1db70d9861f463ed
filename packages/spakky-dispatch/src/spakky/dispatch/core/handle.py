"""``ITaskHandle``: the result handle every transport returns, and its rules.

``spakky.task``'s ``ITaskResult`` has ``get()`` and ``get_async()`` without
arguments; every handle of ours also takes a ``timeout`` and refuses, like
a task queue's usual guard, to wait inside a running task unless told otherwise.
"""

import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import TypedDict, Unpack

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


class SentTo(TypedDict, total=False):
    """Where a task was sent: keyword arguments of a transport's handle."""

    task_name: str | None
    """The task's name."""

    queue: str | None
    """The queue the message went to, when the transport knows it."""


class AbstractTaskHandle[T](ITaskHandle[T], ABC):
    """Base of a transport's handle: it knows where its task was sent.

    The task's name and queue are named by ``timed_out``, the error of a
    wait that ran out, which asks whether a worker consumes that queue.
    """

    __slots__ = ("_queue", "_task_name")

    _task_name: str | None
    _queue: str | None

    def __init__(self, **sent: Unpack[SentTo]) -> None:
        self._task_name = sent.get("task_name")
        self._queue = sent.get("queue")

    @property
    def queue(self) -> str | None:
        """The queue the task was sent to, when known."""
        return self._queue

    def timed_out(self, timeout: float | None) -> TaskResultTimeoutError:
        """The error for a wait of ``timeout`` seconds that ran out."""
        return result_timeout(self.task_id, self._task_name, self.queue, timeout)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.task_id}>"


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


POLL_START = 0.005
"""Seconds of the first pause between two looks at a task's state."""

POLL_MAX = 0.25
"""Longest pause between two looks at a task's state."""


def poll_pauses(timeout: float | None) -> Iterator[float]:
    """Pauses between two looks at a task's state, until ``timeout`` has passed.

    A handle that polls its result backend looks, sleeps the next pause, and
    looks again: the pauses grow from ``POLL_START`` to ``POLL_MAX`` and the
    last one ends at the deadline; when the iterator ends, the time is up
    (``result_timeout`` builds the error). None waits as long as it takes.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    pause = POLL_START
    while True:
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            return
        yield pause if left is None else min(pause, left)
        pause = min(pause * 2, POLL_MAX)
