"""An in-memory transport for tests: captures messages, runs them on demand."""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, override
from uuid import uuid4

from spakky.dispatch.core.error import TaskResultError, TaskResultTimeoutError
from spakky.dispatch.core.handle import ITaskHandle, refuse_wait_inside_task
from spakky.dispatch.core.message import TaskMessage
from spakky.dispatch.core.ports import ITaskSender


class TaskNotRunError(TaskResultError):
    """The result of a captured task was read before the task ran."""

    message = (
        "The task was captured but has not run; call InMemoryTaskSender.run_pending "
        "first"
    )


_PENDING = object()


@dataclass(slots=True, kw_only=True)
class InMemoryTaskResult(ITaskHandle[Any]):
    """Result handle of a captured message, settled when the message runs."""

    message: TaskMessage
    """The captured message."""

    value: object = _PENDING
    """The task's return value, once it ran successfully."""

    error: BaseException | None = None
    """The exception the task raised, once it ran and failed."""

    @property
    @override
    def task_id(self) -> str:
        assert self.message.task_id is not None
        return self.message.task_id

    @property
    def ready(self) -> bool:
        """Whether the task has run."""
        return self.error is not None or self.value is not _PENDING

    @override
    def get(
        self, timeout: float | None = None, *, allow_inside_task: bool = False
    ) -> Any:
        """The task's value; it must have run (``run_pending``), nothing waits.

        Raises:
            WaitInsideTaskError: Called inside a running task without
                ``allow_inside_task``, as every transport's handle refuses.
            TaskNotRunError: The task has not run yet.
        """
        refuse_wait_inside_task(self.task_id, allow_inside_task=allow_inside_task)
        return self._settled()

    def _settled(self) -> Any:
        if self.error is not None:
            raise self.error
        if self.value is _PENDING:
            raise TaskNotRunError(self.message.task_name)
        return self.value

    @override
    async def get_async(
        self, timeout: float | None = None, *, allow_inside_task: bool = False
    ) -> Any:
        """Wait until the task has run (at most ``timeout`` s), then its value.

        Raises:
            WaitInsideTaskError: Called inside a running task without
                ``allow_inside_task``.
            TaskResultTimeoutError: It did not run within ``timeout``.
        """
        refuse_wait_inside_task(self.task_id, allow_inside_task=allow_inside_task)

        async def settled() -> None:
            while not self.ready:
                await asyncio.sleep(0.001)

        message = self.message
        try:
            await asyncio.wait_for(settled(), timeout)
        except TimeoutError as error:
            raise TaskResultTimeoutError(
                f"{message.task_name} ({self.task_id}) did not run within "
                f"{timeout}s; InMemoryTaskSender.run_pending runs captured tasks"
            ) from error
        return self._settled()


type Runner = Callable[[TaskMessage], object]
"""Executes one message; ``TaskInvoker``-backed in practice."""


@dataclass(slots=True)
class InMemoryTaskSender(ITaskSender):
    """An ``ITaskSender`` that keeps every message instead of publishing it."""

    results: list[InMemoryTaskResult] = field(default_factory=list)
    """Handles of every captured message, in dispatch order."""

    @property
    def messages(self) -> list[TaskMessage]:
        """Every captured message, in dispatch order."""
        return [result.message for result in self.results]

    @override
    def send(self, message: TaskMessage) -> InMemoryTaskResult:
        if message.task_id is None:
            message = TaskMessage(
                task_name=message.task_name,
                args=message.args,
                kwargs=message.kwargs,
                headers=message.headers,
                options=message.options,
                task_id=uuid4().hex,
            )
        result = InMemoryTaskResult(message=message)
        self.results.append(result)
        return result

    def run_pending(self, runner: Runner) -> int:
        """Run every captured message that has not run yet, in order.

        Messages dispatched while running are run too. A task's exception is
        stored on its handle, not raised here.

        Returns:
            How many messages ran.
        """
        ran = 0
        index = 0
        while index < len(self.results):
            result = self.results[index]
            index += 1
            if result.ready:
                continue
            try:
                result.value = runner(result.message)
            except Exception as error:
                result.error = error
            ran += 1
        return ran

    def clear(self) -> None:
        """Forget every captured message."""
        self.results.clear()
