"""Where task messages wait for their transaction: the task outbox port.

spakky-outbox's storage port (``IOutboxStorage``: save in the current
transaction, claim, mark published, count a retry, abandon) is used as it is;
``ITaskOutboxStorage`` adds what the task relay needs beyond it. A task outbox
keeps its messages apart from spakky-outbox's event outbox, so the event relay
never claims a task message (and the task relay never claims an event).
"""

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from spakky.outbox.common.message import OutboxMessage
from spakky.outbox.ports.storage import IAsyncOutboxStorage, IOutboxStorage


@dataclass(frozen=True, slots=True, kw_only=True)
class AbandonedTask:
    """A task message the relay gave up on, for an operator to read."""

    message: OutboxMessage
    """The stored row, as saved (payload and headers included)."""

    abandoned_at: datetime
    """When the relay gave up."""

    last_error: str | None
    """The transport's last refusal, as the relay recorded it."""


class ITaskOutboxStorage(IOutboxStorage, ABC):
    """spakky-outbox's storage port, plus what the task relay needs."""

    @abstractmethod
    def release(self, message_ids: Sequence[UUID]) -> None:
        """Give up this relay's claim on messages it did not send.

        They can be claimed again at once instead of after the claim timeout
        (a broker outage, or a message held behind its partition key).
        """
        ...

    @abstractmethod
    def note_failure(self, message_id: UUID, reason: str) -> None:
        """Record why the transport refused a message (kept when abandoned)."""
        ...

    @abstractmethod
    def abandoned(self, limit: int = 100) -> list[AbandonedTask]:
        """The most recently abandoned messages, newest first."""
        ...


class IAsyncTaskOutboxStorage(IAsyncOutboxStorage, ABC):
    """The async twin of ``ITaskOutboxStorage``."""

    @abstractmethod
    async def release(self, message_ids: Sequence[UUID]) -> None:
        """Give up this relay's claim on messages it did not send."""
        ...

    @abstractmethod
    async def note_failure(self, message_id: UUID, reason: str) -> None:
        """Record why the transport refused a message (kept when abandoned)."""
        ...


class ITaskOutbox(ABC):
    """The task outbox of the application's database, joined to its transactions."""

    @abstractmethod
    def in_transaction(self) -> bool:
        """Whether a (sync) transaction is active in the calling context."""
        ...

    @abstractmethod
    def in_async_transaction(self) -> bool:
        """Whether an async transaction is active in the calling context."""
        ...

    @abstractmethod
    def storage(self) -> ITaskOutboxStorage:
        """The storage; ``save`` joins the sync transaction of the context."""
        ...

    @abstractmethod
    def async_storage(self) -> IAsyncTaskOutboxStorage | None:
        """The async storage, when the database is used asynchronously too."""
        ...

    @abstractmethod
    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the transaction of the context commits.

        Not called on a rollback. Used to wake the relay of this process.
        """
        ...
