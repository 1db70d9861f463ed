"""``CeleryTaskResult``: the ``ITaskResult`` over a Celery ``AsyncResult``."""

import asyncio
import time
from typing import Any, override

from celery.backends.base import DisabledBackend
from celery.exceptions import TimeoutError as CeleryTimeoutError
from celery.result import AsyncResult
from spakky.task.interfaces.task_result import ITaskResult

from spakky.dispatch.core import ResultBackendNotConfiguredError, TaskResultTimeoutError

_POLL_START = 0.005
_POLL_MAX = 0.25


class CeleryTaskResult[T](ITaskResult[T]):
    """Handle on a dispatched Celery task."""

    __slots__ = ("_result",)

    _result: AsyncResult[Any]

    def __init__(self, result: AsyncResult[Any]) -> None:
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
        """Celery state name: PENDING, STARTED, RETRY, FAILURE or SUCCESS."""
        self._require_backend()
        return str(self._result.state)

    def ready(self) -> bool:
        """Whether the task has finished (successfully or not)."""
        self._require_backend()
        return bool(self._result.ready())

    def revoke(self, *, terminate: bool = False) -> None:
        """Ask workers not to run the task (and to kill it if ``terminate``)."""
        self._result.revoke(terminate=terminate)

    @override
    def get(self, timeout: float | None = None) -> T:
        """Block until the task finishes and return its value.

        The task's own exception is re-raised as such when it failed.

        Raises:
            ResultBackendNotConfiguredError: No result backend is configured.
            TaskResultTimeoutError: The task did not finish within ``timeout``.
        """
        self._require_backend()
        try:
            value: T = self._result.get(timeout=timeout, disable_sync_subtasks=False)
        except CeleryTimeoutError as error:
            raise TaskResultTimeoutError(
                f"{self.task_id} not finished after {timeout}s"
            ) from error
        return value

    @override
    async def get_async(self, timeout: float | None = None) -> T:
        """Await the task's value without holding a thread while waiting.

        Raises:
            ResultBackendNotConfiguredError: No result backend is configured.
            TaskResultTimeoutError: The task did not finish within ``timeout``.
        """
        self._require_backend()
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = _POLL_START
        while not self._result.ready():
            if deadline is not None and time.monotonic() >= deadline:
                raise TaskResultTimeoutError(
                    f"{self.task_id} not finished after {timeout}s"
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, _POLL_MAX)
        return self.get(timeout=timeout)

    def _require_backend(self) -> None:
        if isinstance(self._result.backend, DisabledBackend):
            raise ResultBackendNotConfiguredError(self.task_id)

    def __repr__(self) -> str:
        return f"<CeleryTaskResult {self.task_id}>"
