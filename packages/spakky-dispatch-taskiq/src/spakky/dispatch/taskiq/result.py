"""``TaskiqTaskResult``: the ``ITaskResult`` over a taskiq result backend."""

import asyncio
import time
from functools import partial
from typing import Any, cast, override

from spakky.task.interfaces.task_result import ITaskResult
from taskiq import AsyncBroker, AsyncResultBackend, TaskiqResult
from taskiq.result_backends.dummy import DummyResultBackend

from spakky.dispatch.core import (
    ResultBackendNotConfiguredError,
    TaskResultTimeoutError,
)
from spakky.dispatch.taskiq.error import ResultBackendUnavailableError
from spakky.dispatch.taskiq.loop import BrokerLoop

_POLL_START = 0.005
_POLL_MAX = 0.25


class TaskiqTaskResult[T](ITaskResult[T]):
    """Handle on a task sent through taskiq; reads its result backend."""

    __slots__ = ("_loop", "_task_id")

    _task_id: str
    _loop: BrokerLoop

    def __init__(self, task_id: str, loop: BrokerLoop) -> None:
        self._task_id = task_id
        self._loop = loop

    @property
    @override
    def task_id(self) -> str:
        return self._task_id

    def ready(self) -> bool:
        """Whether the task has finished (successfully or not).

        Raises:
            ResultBackendNotConfiguredError: No result backend is configured.
            ResultBackendUnavailableError: The backend could not be read.
        """
        self._require_backend()
        return self._loop.run(partial(_is_ready, task_id=self._task_id))

    @override
    def get(self, timeout: float | None = None) -> T:
        """Block until the task finishes and return its value.

        The task's own exception is raised when it failed.

        Raises:
            ResultBackendNotConfiguredError: No result backend is configured.
            ResultBackendUnavailableError: The backend could not be read.
            TaskResultTimeoutError: The task did not finish within ``timeout``.
        """
        self._require_backend()
        result = self._loop.run(partial(_wait, task_id=self._task_id, timeout=timeout))
        return cast(T, _value(result))

    @override
    async def get_async(self, timeout: float | None = None) -> T:
        """Await the task's value without blocking the event loop.

        Raises:
            ResultBackendNotConfiguredError: No result backend is configured.
            ResultBackendUnavailableError: The backend could not be read.
            TaskResultTimeoutError: The task did not finish within ``timeout``.
        """
        self._require_backend()
        work = partial(_wait, task_id=self._task_id, timeout=timeout)
        return cast(T, _value(await self._loop.call(work)))

    def _require_backend(self) -> None:
        if isinstance(self._loop.broker.result_backend, DummyResultBackend):
            raise ResultBackendNotConfiguredError(
                f"{self._task_id}; for taskiq set SPAKKY_TASKIQ__RESULT_BACKEND"
            )

    def __repr__(self) -> str:
        return f"<TaskiqTaskResult {self._task_id}>"


def _value(result: TaskiqResult[Any]) -> Any:
    if result.is_err and result.error is not None:
        raise result.error
    return result.return_value


async def _is_ready(broker: AsyncBroker, *, task_id: str) -> bool:
    backend: AsyncResultBackend[Any] = broker.result_backend
    try:
        return await backend.is_result_ready(task_id)
    except Exception as error:
        raise ResultBackendUnavailableError(f"{task_id}: {error}") from error


async def _wait(
    broker: AsyncBroker, *, task_id: str, timeout: float | None
) -> TaskiqResult[Any]:
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = _POLL_START
    while not await _is_ready(broker, task_id=task_id):
        if deadline is not None and time.monotonic() >= deadline:
            raise TaskResultTimeoutError(f"{task_id} not finished after {timeout}s")
        await asyncio.sleep(delay)
        delay = min(delay * 2, _POLL_MAX)
    try:
        return await broker.result_backend.get_result(task_id)
    except Exception as error:
        raise ResultBackendUnavailableError(f"{task_id}: {error}") from error
