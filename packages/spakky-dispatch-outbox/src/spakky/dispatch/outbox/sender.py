"""The transactional sender: a task dispatched in a transaction waits for its commit.

``TaskOutboxDecorator`` is the core's sender decorator: the dispatcher sends
through a ``TransactionalTaskSender`` that wraps whichever sender the transport
plugin registered. Inside a transaction the message is stored in the task
outbox, in that transaction, and the relay sends it through the transport's
sender once it has committed, with the same task id; outside one it is sent at
once, or refused (``SPAKKY_DISPATCH_OUTBOX__OUTSIDE_TRANSACTION``).
"""

import asyncio
from datetime import UTC, datetime
from typing import Any, Literal, override
from uuid import uuid4

from spakky.core.pod.annotations.pod import Pod

from spakky.dispatch.outbox.codec import encode
from spakky.dispatch.outbox.config import TaskOutboxConfig
from spakky.dispatch.outbox.error import (
    NoTransactionError,
    TaskOutboxNotConfiguredError,
    TransactionKindMismatchError,
)
from spakky.dispatch.outbox.from_core import (
    HeaderLimits,
    IAsyncTaskSender,
    ITaskHandle,
    ITaskSender,
    ITaskSenderDecorator,
    ResultLookupUnsupportedError,
    TaskMessage,
)
from spakky.dispatch.outbox.partition import current_partition
from spakky.dispatch.outbox.ports import ITaskOutbox
from spakky.dispatch.outbox.result import StoredTaskResult
from spakky.dispatch.outbox.wakeup import RelaySignal


class TransactionalTaskSender(ITaskSender, IAsyncTaskSender):
    """Stores messages in the task outbox inside a transaction; sends them outside."""

    _outbox: ITaskOutbox
    _transport: ITaskSender
    _async_transport: IAsyncTaskSender | None
    _outside: Literal["send", "refuse"]
    _signal: RelaySignal

    def __init__(
        self,
        outbox: ITaskOutbox,
        transport: ITaskSender,
        async_transport: IAsyncTaskSender | None,
        *,
        outside: Literal["send", "refuse"],
        signal: RelaySignal,
    ) -> None:
        self._outbox = outbox
        self._transport = transport
        self._async_transport = async_transport
        self._outside = outside
        self._signal = signal

    @property
    def transport(self) -> ITaskSender:
        """The transport's own sender, which the relay publishes through."""
        return self._transport

    @property
    @override
    def header_limits(self) -> HeaderLimits:
        """The transport's limits: a message is checked before it is stored."""
        return self._transport.header_limits

    @override
    def send(self, message: TaskMessage) -> ITaskHandle[Any]:
        """Store ``message`` in the active transaction, or send it when none is.

        Raises:
            UnstorableTaskError: The call cannot be stored (nothing was stored).
            TransactionKindMismatchError: Only an async transaction is active.
            NoTransactionError: No transaction, and that is refused.
            TaskDispatchError: Sent at once, and the transport failed.
        """
        message = _with_id(message)
        if self._outbox.in_transaction():
            self._outbox.storage().save(self._row(message))
            return self._stored(message)
        if self._outbox.in_async_transaction():
            raise TransactionKindMismatchError(message.task_name)
        self._check_outside(message)
        return self._transport.send(message)

    @override
    async def send_async(self, message: TaskMessage) -> ITaskHandle[Any]:
        """Store ``message`` in the active transaction, or send it when none is.

        Raises:
            UnstorableTaskError: The call cannot be stored (nothing was stored).
            NoTransactionError: No transaction, and that is refused.
            TaskDispatchError: Sent at once, and the transport failed.
        """
        message = _with_id(message)
        storage = self._outbox.async_storage()
        if storage is not None and self._outbox.in_async_transaction():
            await storage.save(self._row(message))
            return self._stored(message)
        if self._outbox.in_transaction():
            self._outbox.storage().save(self._row(message))
            return self._stored(message)
        self._check_outside(message)
        if self._async_transport is not None:
            return await self._async_transport.send_async(message)
        return await asyncio.to_thread(self._transport.send, message)

    @override
    def result_for(self, task_id: str) -> ITaskHandle[Any]:
        """The transport's handle on ``task_id``, or a handle that only names it."""
        try:
            return self._transport.result_for(task_id)
        except ResultLookupUnsupportedError:
            return StoredTaskResult(task_id)

    def _row(self, message: TaskMessage) -> Any:
        return encode(message, partition_key=current_partition(), now=datetime.now(UTC))

    def _stored(self, message: TaskMessage) -> ITaskHandle[Any]:
        self._outbox.after_commit(self._signal.wake)
        assert message.task_id is not None
        return self.result_for(message.task_id)

    def _check_outside(self, message: TaskMessage) -> None:
        if self._outside == "refuse":
            raise NoTransactionError(message.task_name)


def _with_id(message: TaskMessage) -> TaskMessage:
    """``message`` with a task id, so the caller's handle and the relay agree."""
    if message.task_id is not None:
        return message
    return TaskMessage(
        task_name=message.task_name,
        args=message.args,
        kwargs=message.kwargs,
        headers=message.headers,
        options=message.options,
        task_id=str(uuid4()),
    )


@Pod()
class TaskOutboxDecorator(ITaskSenderDecorator):
    """Puts a ``TransactionalTaskSender`` between the dispatcher and the transport."""

    _outbox: ITaskOutbox
    _config: TaskOutboxConfig
    _signal: RelaySignal

    def __init__(
        self,
        config: TaskOutboxConfig,
        signal: RelaySignal,
        outbox: ITaskOutbox | None = None,
    ) -> None:
        if outbox is None:
            raise TaskOutboxNotConfiguredError()
        self._outbox = outbox
        self._config = config
        self._signal = signal

    @override
    def decorate(
        self, sender: ITaskSender, async_sender: IAsyncTaskSender | None
    ) -> tuple[ITaskSender, IAsyncTaskSender | None]:
        wrapped = TransactionalTaskSender(
            self._outbox,
            sender,
            async_sender,
            outside=self._config.outside_transaction,
            signal=self._signal,
        )
        return wrapped, wrapped
