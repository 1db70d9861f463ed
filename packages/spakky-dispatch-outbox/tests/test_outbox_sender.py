"""The transactional sender: store in a transaction, send outside, refuse on demand."""

import asyncio

import pytest

from spakky.dispatch.core.adapter import (
    HeaderLimits,
    ResultLookupUnsupportedError,
    TaskMessage,
)
from spakky.dispatch.outbox import (
    NoTransactionError,
    StoredTaskResult,
    TaskOutboxDecorator,
    TaskOutboxNotConfiguredError,
    TransactionalTaskSender,
    TransactionKindMismatchError,
    decode,
    outbox_partition,
)
from spakky.dispatch.outbox.config import TaskOutboxConfig
from spakky.dispatch.outbox.wakeup import RelaySignal

from .outbox_fakes import (
    AsyncScriptedTransport,
    LookedUp,
    MemoryOutbox,
    ScriptedTransport,
)

MESSAGE = TaskMessage(task_name="shop.Mail.confirm", args=("A-1",))


def _sender(
    outbox: MemoryOutbox,
    transport: ScriptedTransport,
    *,
    outside: str = "send",
    with_async: bool = False,
) -> TransactionalTaskSender:
    return TransactionalTaskSender(
        outbox,
        transport,
        AsyncScriptedTransport(transport) if with_async else None,
        outside=outside,  # type: ignore[arg-type]
        signal=RelaySignal(),
    )


def test_send_in_transaction_expect_stored_not_sent_and_handle_for_its_id() -> None:
    """In a transaction the task is stored with a new id; the handle is the transport's."""
    outbox, transport = MemoryOutbox(), ScriptedTransport()
    outbox.transaction = True
    with outbox_partition("order-1"):
        handle = _sender(outbox, transport).send(MESSAGE)
    assert transport.sent == []
    [row] = outbox.memory.rows.values()
    assert isinstance(handle, LookedUp)
    assert decode(row).task_id == handle.task_id
    assert row.partition_key == "order-1"
    assert len(outbox.on_commit) == 1


def test_send_keeps_given_task_id_expect_row_and_handle_use_it() -> None:
    """A task id assigned before the sender is kept."""
    outbox = MemoryOutbox()
    outbox.transaction = True
    given = TaskMessage(task_name="t", task_id="given")
    handle = _sender(outbox, ScriptedTransport()).send(given)
    [row] = outbox.memory.rows.values()
    assert handle.task_id == decode(row).task_id == "given"


def test_send_commit_callback_expect_relay_signal_woken() -> None:
    """The after-commit callback wakes this process's relay."""
    outbox, signal = MemoryOutbox(), RelaySignal()
    outbox.transaction = True
    sender = TransactionalTaskSender(
        outbox, ScriptedTransport(), None, outside="send", signal=signal
    )
    sender.send(MESSAGE)
    assert signal.wait(0) is False
    outbox.on_commit[0]()
    assert signal.wait(0) is True


def test_send_outside_transaction_expect_sent_at_once() -> None:
    """With no transaction the transport sends it now; nothing is stored."""
    outbox, transport = MemoryOutbox(), ScriptedTransport()
    sender = _sender(outbox, transport)
    handle = sender.send(MESSAGE)
    assert [m.task_id for m in transport.sent] == [handle.task_id]
    assert outbox.memory.rows == {}
    assert sender.transport is transport


def test_send_outside_transaction_refused_expect_error_and_nothing_sent() -> None:
    """``OUTSIDE_TRANSACTION=refuse``: no transaction, no task."""
    outbox, transport = MemoryOutbox(), ScriptedTransport()
    sender = _sender(outbox, transport, outside="refuse")
    with pytest.raises(NoTransactionError, match="@Transactional"):
        sender.send(MESSAGE)
    with pytest.raises(NoTransactionError):
        asyncio.run(sender.send_async(MESSAGE))
    assert transport.sent == []
    assert outbox.memory.rows == {}


def test_send_sync_in_async_transaction_expect_mismatch_error() -> None:
    """A sync send cannot join an async transaction: said, nothing sent or stored."""
    outbox, transport = MemoryOutbox(), ScriptedTransport()
    outbox.async_transaction = True
    with pytest.raises(TransactionKindMismatchError, match="make the @task method"):
        _sender(outbox, transport).send(MESSAGE)
    assert transport.sent == []
    assert outbox.memory.rows == {}


def test_send_async_in_async_transaction_expect_stored_by_async_storage() -> None:
    """An async dispatch in an async transaction is stored through the async storage."""
    outbox, transport = MemoryOutbox(), ScriptedTransport()
    outbox.async_transaction = True
    handle = asyncio.run(_sender(outbox, transport).send_async(MESSAGE))
    [row] = outbox.memory.rows.values()
    assert decode(row).task_id == handle.task_id
    assert transport.sent == []
    assert len(outbox.on_commit) == 1


def test_send_async_in_sync_transaction_expect_stored_by_sync_storage() -> None:
    """An async dispatch inside a sync transaction joins it."""
    outbox = MemoryOutbox(with_async=False)
    outbox.transaction = True
    asyncio.run(_sender(outbox, ScriptedTransport()).send_async(MESSAGE))
    assert len(outbox.memory.rows) == 1


def test_send_async_outside_expect_async_transport_or_sync_in_thread() -> None:
    """Outside a transaction: the async transport when there is one, else the sync one."""
    for with_async in (True, False):
        outbox, transport = MemoryOutbox(), ScriptedTransport()
        sender = _sender(outbox, transport, with_async=with_async)
        handle = asyncio.run(sender.send_async(MESSAGE))
        assert [m.task_id for m in transport.sent] == [handle.task_id]


def test_result_for_without_lookup_expect_handle_that_names_the_task() -> None:
    """A transport with no lookup: the handle has the id and says why it cannot read."""
    outbox = MemoryOutbox()
    outbox.transaction = True
    handle = _sender(outbox, ScriptedTransport(lookup=False)).send(MESSAGE)
    assert isinstance(handle, StoredTaskResult)
    assert repr(handle) == f"<StoredTaskResult {handle.task_id}>"
    with pytest.raises(ResultLookupUnsupportedError):
        handle.get()
    with pytest.raises(ResultLookupUnsupportedError):
        asyncio.run(handle.get_async())


def test_decorator_expect_one_transactional_sender_for_both_ports(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The decorator wraps the transport's senders in one transactional sender."""
    monkeypatch.setenv("SPAKKY_DISPATCH_OUTBOX__OUTSIDE_TRANSACTION", "refuse")
    transport = ScriptedTransport()
    decorator = TaskOutboxDecorator(TaskOutboxConfig(), RelaySignal(), MemoryOutbox())
    sender, async_sender = decorator.decorate(transport, None)
    assert isinstance(sender, TransactionalTaskSender)
    assert sender is async_sender
    assert sender.transport is transport
    with pytest.raises(NoTransactionError):
        sender.send(MESSAGE)


def test_decorator_without_outbox_expect_not_configured_error() -> None:
    """Loaded without a task outbox: a clear error naming the plugins to load."""
    with pytest.raises(TaskOutboxNotConfiguredError, match="spakky-sqlalchemy"):
        TaskOutboxDecorator(TaskOutboxConfig(), RelaySignal(), None)


def test_header_limits_expect_the_transports() -> None:
    """The dispatcher checks a message against the transport's limits before it is
    stored; the transactional sender declares those same limits."""
    limits = HeaderLimits(reserved=frozenset({"task"}), max_bytes=64)
    sender = _sender(MemoryOutbox(), ScriptedTransport(limits=limits))
    assert sender.header_limits is limits
