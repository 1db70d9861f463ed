"""``CeleryTaskResult``: the ``ITaskResult`` over a Celery ``AsyncResult``."""

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any, Unpack, override

from celery.backends.base import DisabledBackend
from celery.exceptions import NotRegistered
from celery.result import AsyncResult

from spakky.dispatch.celery.urls import masked_url, scrub
from spakky.dispatch.core.adapter import (
    AbstractTaskHandle,
    ResultBackendNotConfiguredError,
    ResultBackendUnavailableError,
    SentTo,
    TaskNotRegisteredError,
    poll_pauses,
    refuse_wait_inside_task,
)


class CeleryTaskResult[T](AbstractTaskHandle[T]):
    """Handle on a dispatched Celery task.

    ``get`` and ``get_async`` share one wait: they poll the task's state with
    a growing pause (at most 0.25 s), so every wait is bounded by the caller's
    ``timeout`` and by the result backend's socket timeout, and an unreachable
    backend is reported as ``ResultBackendUnavailableError``, never as the
    task's own failure. Inside a running task both refuse to wait unless
    ``allow_inside_task=True`` (``WaitInsideTaskError``).
    """

    __slots__ = ("_result",)

    _result: AsyncResult[Any]

    def __init__(self, result: AsyncResult[Any], **sent: Unpack[SentTo]) -> None:
        super().__init__(**sent)
        self._result = result

    @property
    @override
    def task_id(self) -> str:
        return str(self._result.id)

    @property
    def async_result(self) -> AsyncResult[Any]:
        """The underlying Celery ``AsyncResult``."""
        return self._result

    @property
    def state(self) -> str:
        """Celery state name: PENDING, STARTED, RETRY, FAILURE or SUCCESS.

        Raises:
            ResultBackendNotConfiguredError: No result backend is configured.
            ResultBackendUnavailableError: The backend cannot be read.
        """
        self._require_backend()
        return str(self._read(lambda: self._result.state))

    def ready(self) -> bool:
        """Whether the task has finished (successfully or not).

        Raises:
            ResultBackendNotConfiguredError: No result backend is configured.
            ResultBackendUnavailableError: The backend cannot be read.
        """
        self._require_backend()
        return bool(self._read(self._result.ready))

    def revoke(self, *, terminate: bool = False) -> None:
        """Ask workers not to run the task (and to kill it if ``terminate``)."""
        self._result.revoke(terminate=terminate)

    @property
    @override
    def queue(self) -> str:
        """The queue the task was sent to (as routed, when the call named none)."""
        if self._queue is None:
            self._queue = routed_queue(self._result.app, self._task_name)
        return self._queue

    @override
    def get(
        self, timeout: float | None = None, *, allow_inside_task: bool = False
    ) -> T:
        """Block until the task finishes; its value, or its own exception.

        Raises the errors of ``ITaskHandle.get``; ``ResultBackendUnavailableError``
        when the backend cannot be read within its socket timeout.
        """
        refuse_wait_inside_task(self.task_id, allow_inside_task=allow_inside_task)
        for pause in self._pauses(timeout):
            time.sleep(pause)
        return self._value()

    @override
    async def get_async(
        self, timeout: float | None = None, *, allow_inside_task: bool = False
    ) -> T:
        """``get`` without holding a thread while waiting."""
        refuse_wait_inside_task(self.task_id, allow_inside_task=allow_inside_task)
        for pause in self._pauses(timeout):
            await asyncio.sleep(pause)
        return self._value()

    def _pauses(self, timeout: float | None) -> Iterator[float]:
        """Pauses to wait between two looks at the state, until the task is done."""
        self._require_backend()
        pauses = poll_pauses(timeout)
        while not self.ready():
            pause = next(pauses, None)
            if pause is None:
                raise self.timed_out(timeout)
            yield pause

    def _value(self) -> T:
        # The finished state is cached by ``ready``: this reads no backend and
        # re-raises the task's own exception when it failed. Celery's own
        # guard against waiting inside a task is off: ours ran in ``get``.
        try:
            value: T = self._result.get(disable_sync_subtasks=False)
        except NotRegistered as error:
            name = error.args[0] if error.args else "?"
            raise TaskNotRegisteredError(
                f"the worker that received {self.task_id} has no task {name!r}: "
                "it was renamed or removed, or that worker runs older code"
            ) from error
        return value

    def _read[V](self, read: Callable[[], V]) -> V:
        try:
            return read()
        except Exception as error:
            url = self._result.app.conf.result_backend
            raise ResultBackendUnavailableError(
                f"state of {self.task_id} could not be read from "
                f"{masked_url(url)}: {scrub(str(error) or type(error).__name__, url)}"
                "; check SPAKKY_CELERY__RESULT_BACKEND"
            ) from error

    def _require_backend(self) -> None:
        if isinstance(self._result.backend, DisabledBackend):
            raise ResultBackendNotConfiguredError(
                f"{self.task_id}; set SPAKKY_CELERY__RESULT_BACKEND"
            )


def routed_queue(app: Any, task_name: str | None) -> str:
    """The queue Celery routes ``task_name`` to when a call names none."""
    default = str(app.conf.task_default_queue)
    if task_name is None:
        return default
    try:
        queue = app.amqp.router.route({}, task_name).get("queue")
    except Exception:  # a router of the user's that needs arguments: the default
        return default
    name = getattr(queue, "name", queue)
    return str(name) if name else default
