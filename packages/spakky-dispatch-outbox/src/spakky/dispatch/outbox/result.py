"""``StoredTaskResult``: the handle when the transport cannot look ids up."""

from typing import Any, override

from spakky.dispatch.outbox.from_core import ITaskHandle, ResultLookupUnsupportedError


class StoredTaskResult(ITaskHandle[Any]):
    """Names the stored task; its result can be read only through the transport."""

    __slots__ = ("_task_id",)

    _task_id: str

    def __init__(self, task_id: str) -> None:
        self._task_id = task_id

    @property
    @override
    def task_id(self) -> str:
        return self._task_id

    @override
    def get(
        self, timeout: float | None = None, *, allow_inside_task: bool = False
    ) -> Any:
        """Raises: ResultLookupUnsupportedError (the transport has no lookup)."""
        raise ResultLookupUnsupportedError(self._task_id)

    @override
    async def get_async(
        self, timeout: float | None = None, *, allow_inside_task: bool = False
    ) -> Any:
        """Raises: ResultLookupUnsupportedError (the transport has no lookup)."""
        raise ResultLookupUnsupportedError(self._task_id)

    def __repr__(self) -> str:
        return f"<StoredTaskResult {self._task_id}>"
