"""``TaskiqTaskResult``: the ``ITaskResult`` over a taskiq result backend."""

import asyncio
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any, Unpack, cast, override

from taskiq import AsyncBroker, AsyncResultBackend, TaskiqResult
from taskiq.result_backends.dummy import DummyResultBackend

from spakky.dispatch.core.adapter import (
    AbstractTaskHandle,
    ResultBackendNotConfiguredError,
    ResultBackendUnavailableError,
    SentTo,
    poll_pauses,
    refuse_wait_inside_task,
)
from spakky.dispatch.taskiq.loop import BrokerLoop


class TaskiqTaskResult[T](AbstractTaskHandle[T]):
    """Handle on a task sent through taskiq; reads its result backend.

    Inside a running task ``get`` and ``get_async`` refuse to wait unless
    ``allow_inside_task=True`` (``WaitInsideTaskError``).
    """

    __slots__ = ("_loop", "_task_id")

    _task_id: str
    _loop: BrokerLoop

    def __init__(self, task_id: str, loop: BrokerLoop, **sent: Unpack[SentTo]) -> None:
        super().__init__(**sent)
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
    def get(
        self, timeout: float | None = None, *, allow_inside_task: bool = False
    ) -> T:
        """Block until the task finishes; its value, or its own exception.

        Raises the errors of ``ITaskHandle.get``; ``ResultBackendUnavailableError``
        when the backend cannot be read, ``BrokerLoopBlockedError`` on the
        broker's own event loop.
        """
        refuse_wait_inside_task(self._task_id, allow_inside_task=allow_inside_task)
        self._require_backend()
        return cast(T, _value(self._loop.run(self._waiting(timeout))))

    @override
    async def get_async(
        self, timeout: float | None = None, *, allow_inside_task: bool = False
    ) -> T:
        """``get`` without blocking the event loop."""
        refuse_wait_inside_task(self._task_id, allow_inside_task=allow_inside_task)
        self._require_backend()
        return cast(T, _value(await self._loop.call(self._waiting(timeout))))

    def _waiting(
        self, timeout: float | None
    ) -> Callable[[AsyncBroker], Coroutine[Any, Any, TaskiqResult[Any]]]:
        async def wait(broker: AsyncBroker) -> TaskiqResult[Any]:
            result = await _wait(broker, task_id=self._task_id, timeout=timeout)
            if result is None:
                raise self.timed_out(timeout)
            return result

        return wait

    def _require_backend(self) -> None:
        if isinstance(self._loop.broker.result_backend, DummyResultBackend):
            raise ResultBackendNotConfiguredError(
                f"{self._task_id}; set SPAKKY_TASKIQ__RESULT_BACKEND"
            )


def _value(result: TaskiqResult[Any]) -> Any:
    if result.is_err and result.error is not None:
        raise result.error
    return result.return_value


async def _is_ready(broker: AsyncBroker, *, task_id: str) -> bool:
    backend: AsyncResultBackend[Any] = broker.result_backend
    try:
        return await backend.is_result_ready(task_id)
    except Exception as error:
        raise ResultBackendUnavailableError(
            f"{task_id}: {error}; check SPAKKY_TASKIQ__RESULT_BACKEND"
        ) from error


async def _wait(
    broker: AsyncBroker, *, task_id: str, timeout: float | None
) -> TaskiqResult[Any] | None:
    """The task's result, or None when it is not ready within ``timeout``."""
    pauses = poll_pauses(timeout)
    while not await _is_ready(broker, task_id=task_id):
        pause = next(pauses, None)
        if pause is None:
            return None
        await asyncio.sleep(pause)
    try:
        return await broker.result_backend.get_result(task_id)
    except Exception as error:
        raise ResultBackendUnavailableError(
            f"{task_id}: {error}; check SPAKKY_TASKIQ__RESULT_BACKEND"
        ) from error


def queue_of(broker: AsyncBroker, configured: str | None) -> str | None:
    """The queue ``broker`` sends to: a Redis broker's list, else ``configured``.

    ``configured`` is ``SPAKKY_TASKIQ__QUEUE``, which the default RabbitMQ
    broker is built with.
    """
    name = getattr(broker, "queue_name", None)
    return name if isinstance(name, str) and name else configured
