"""In-memory stand-ins for the task outbox and a transport, for unit tests."""

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, override
from uuid import UUID

from spakky.outbox.common.message import OutboxMessage
from spakky.task.interfaces.task_result import ITaskResult

from spakky.dispatch.core.adapter import (
    NO_HEADER_LIMITS,
    HeaderLimits,
    IAsyncTaskSender,
    ITaskSender,
    TaskMessage,
)
from spakky.dispatch.core.testing import InMemoryTaskSender
from spakky.dispatch.outbox import (
    AbandonedTask,
    IAsyncTaskOutboxStorage,
    ITaskOutbox,
    ITaskOutboxStorage,
)


class MemoryStorage(ITaskOutboxStorage):
    """Rows in a dict; records every call."""

    def __init__(self) -> None:
        self.rows: dict[UUID, OutboxMessage] = {}
        self.errors: dict[UUID, str] = {}
        self.calls: list[tuple[str, object]] = []
        self.fail_on: str | None = None

    def _call(self, name: str, arg: object) -> None:
        self.calls.append((name, arg))
        if self.fail_on == name:
            raise ConnectionError(f"database down during {name}")

    @override
    def save(self, message: OutboxMessage) -> None:
        self._call("save", message.id)
        self.rows[message.id] = message

    @override
    def fetch_pending(self, limit: int, max_retry: int) -> list[OutboxMessage]:
        self._call("fetch_pending", limit)
        pending = [
            row
            for row in self.rows.values()
            if row.published_at is None
            and row.abandoned_at is None
            and row.claimed_at is None
            and row.retry_count < max_retry
        ]
        pending = sorted(pending, key=lambda row: row.created_at)[:limit]
        for row in pending:
            self.rows[row.id] = replace(row, claimed_at=datetime.now(UTC))
        return pending

    @override
    def mark_published(self, message_id: UUID) -> None:
        self._call("mark_published", message_id)
        self.rows[message_id] = replace(
            self.rows[message_id], published_at=datetime.now(UTC)
        )

    @override
    def increment_retry(self, message_id: UUID) -> None:
        self._call("increment_retry", message_id)
        row = self.rows[message_id]
        self.rows[message_id] = replace(
            row, retry_count=row.retry_count + 1, claimed_at=None
        )

    @override
    def mark_abandoned(self, message_id: UUID) -> None:
        self._call("mark_abandoned", message_id)
        self.rows[message_id] = replace(
            self.rows[message_id], abandoned_at=datetime.now(UTC)
        )

    @override
    def release(self, message_ids: Sequence[UUID]) -> None:
        self._call("release", tuple(message_ids))
        for message_id in message_ids:
            self.rows[message_id] = replace(self.rows[message_id], claimed_at=None)

    @override
    def note_failure(self, message_id: UUID, reason: str) -> None:
        self._call("note_failure", message_id)
        self.errors[message_id] = reason

    @override
    def abandoned(self, limit: int = 100) -> list[AbandonedTask]:
        return [
            AbandonedTask(
                message=row,
                abandoned_at=row.abandoned_at,
                last_error=self.errors.get(row.id),
            )
            for row in self.rows.values()
            if row.abandoned_at is not None
        ][:limit]


class AsyncMemoryStorage(IAsyncTaskOutboxStorage):
    """``MemoryStorage`` behind async methods."""

    def __init__(self, inner: MemoryStorage) -> None:
        self.inner = inner

    @override
    async def save(self, message: OutboxMessage) -> None:
        self.inner.save(message)

    @override
    async def fetch_pending(self, limit: int, max_retry: int) -> list[OutboxMessage]:
        return self.inner.fetch_pending(limit, max_retry)

    @override
    async def mark_published(self, message_id: UUID) -> None:
        self.inner.mark_published(message_id)

    @override
    async def increment_retry(self, message_id: UUID) -> None:
        self.inner.increment_retry(message_id)

    @override
    async def mark_abandoned(self, message_id: UUID) -> None:
        self.inner.mark_abandoned(message_id)

    @override
    async def release(self, message_ids: Sequence[UUID]) -> None:
        self.inner.release(message_ids)

    @override
    async def note_failure(self, message_id: UUID, reason: str) -> None:
        self.inner.note_failure(message_id, reason)


class MemoryOutbox(ITaskOutbox):
    """A task outbox whose transaction state the test sets."""

    def __init__(self, *, with_async: bool = True) -> None:
        self.memory = MemoryStorage()
        self.async_memory = AsyncMemoryStorage(self.memory) if with_async else None
        self.transaction = False
        self.async_transaction = False
        self.on_commit: list[Callable[[], None]] = []

    @override
    def in_transaction(self) -> bool:
        return self.transaction

    @override
    def in_async_transaction(self) -> bool:
        return self.async_transaction

    @override
    def storage(self) -> ITaskOutboxStorage:
        return self.memory

    @override
    def async_storage(self) -> IAsyncTaskOutboxStorage | None:
        return self.async_memory

    @override
    def after_commit(self, callback: Callable[[], None]) -> None:
        self.on_commit.append(callback)


class ScriptedTransport(ITaskSender):
    """An in-memory transport that raises the scripted errors first, in turn."""

    def __init__(
        self,
        *errors: Exception,
        lookup: bool = True,
        limits: HeaderLimits = NO_HEADER_LIMITS,
    ) -> None:
        self.memory = InMemoryTaskSender()
        self.errors = list(errors)
        self.lookup = lookup
        self.limits = limits

    @property
    @override
    def header_limits(self) -> HeaderLimits:
        return self.limits

    @property
    def sent(self) -> list[TaskMessage]:
        return self.memory.messages

    @override
    def send(self, message: TaskMessage) -> ITaskResult[Any]:
        if self.errors:
            raise self.errors.pop(0)
        return self.memory.send(message)

    @override
    def result_for(self, task_id: str) -> ITaskResult[Any]:
        if not self.lookup:
            return super().result_for(task_id)
        return LookedUp(task_id)


class AsyncScriptedTransport(IAsyncTaskSender):
    """The async side of a ``ScriptedTransport``."""

    def __init__(self, inner: ScriptedTransport) -> None:
        self.inner = inner

    @override
    async def send_async(self, message: TaskMessage) -> ITaskResult[Any]:
        return self.inner.send(message)


class LookedUp(ITaskResult[Any]):
    """What ``ScriptedTransport.result_for`` returns."""

    def __init__(self, task_id: str) -> None:
        self._task_id = task_id

    @property
    @override
    def task_id(self) -> str:
        return self._task_id

    @override
    def get(self) -> Any:
        return "looked up"

    @override
    async def get_async(self) -> Any:
        return "looked up"
