"""The relay's decisions: publish, hold on an outage, retry, abandon, keep key order."""

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from spakky.dispatch.core import BrokerUnavailableError
from spakky.dispatch.core.adapter import (
    HeaderBudgetExceededError,
    HeaderLimits,
    TaskMessage,
)
from spakky.dispatch.outbox import TaskOutboxConfig, encode
from spakky.dispatch.outbox.relay import relay_batch, run_steps
from spakky.dispatch.outbox.services import AsyncTaskOutboxRelay, TaskOutboxRelay
from spakky.dispatch.outbox.wakeup import RelaySignal

from .outbox_fakes import AsyncScriptedTransport, MemoryOutbox, ScriptedTransport

START = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def config(monkeypatch: pytest.MonkeyPatch) -> TaskOutboxConfig:
    monkeypatch.setenv("SPAKKY_DISPATCH_OUTBOX__MAX_ATTEMPTS", "3")
    monkeypatch.setenv("SPAKKY_DISPATCH_OUTBOX__BATCH_SIZE", "10")
    return TaskOutboxConfig()


def _store(outbox: MemoryOutbox, *orders: str, key: str | None = None) -> list[str]:
    ids = []
    for order in orders:
        offset = len(outbox.memory.rows)
        message = TaskMessage(
            task_name="shop.Mail.confirm", args=(order,), task_id=f"t-{order}"
        )
        row = encode(message, partition_key=key, now=START + timedelta(seconds=offset))
        outbox.memory.save(row)
        ids.append(f"t-{order}")
    return ids


def _relay(
    outbox: MemoryOutbox, transport: ScriptedTransport, config: TaskOutboxConfig
) -> TaskOutboxRelay:
    return TaskOutboxRelay(outbox, transport, config, RelaySignal())


def test_relay_committed_messages_expect_published_in_order_with_same_ids(
    config: TaskOutboxConfig,
) -> None:
    """Each stored task goes to the transport once, with its own task id."""
    outbox, transport = MemoryOutbox(), ScriptedTransport()
    ids = _store(outbox, "A", "B", "C")
    report = _relay(outbox, transport, config).relay_once()
    assert [m.task_id for m in transport.sent] == ids == report.published
    assert all(row.published_at for row in outbox.memory.rows.values())
    again = _relay(outbox, transport, config).relay_once()
    assert (again.claimed, len(transport.sent)) == (0, 3)


def test_relay_broker_unavailable_expect_batch_released_without_attempts(
    config: TaskOutboxConfig,
) -> None:
    """An outage spends nobody's attempts; everything is released for the next poll."""
    outbox = MemoryOutbox()
    _store(outbox, "A", "B")
    transport = ScriptedTransport(BrokerUnavailableError("down"))
    report = _relay(outbox, transport, config).relay_once()
    assert report.outage
    assert report.released == 2
    assert report.published == []
    rows = list(outbox.memory.rows.values())
    assert [(r.retry_count, r.claimed_at, r.published_at) for r in rows] == [
        (0, None, None),
        (0, None, None),
    ]
    later = _relay(outbox, transport, config).relay_once()
    assert later.published == ["t-A", "t-B"]


def test_relay_refusal_expect_attempts_counted_then_abandoned_with_reason(
    config: TaskOutboxConfig,
) -> None:
    """Refused three times (the limit): counted twice, then abandoned, reason kept."""
    outbox = MemoryOutbox()
    _store(outbox, "A")
    refusal = HeaderBudgetExceededError("too big")
    transport = ScriptedTransport(refusal, refusal, refusal)
    relay = _relay(outbox, transport, config)
    reports = [relay.relay_once() for _ in range(4)]
    assert [(r.refused, r.abandoned) for r in reports] == [
        (1, 0),
        (1, 0),
        (0, 1),
        (0, 0),
    ]
    [abandoned] = outbox.memory.abandoned()
    assert abandoned.message.retry_count == 2
    assert abandoned.last_error is not None
    assert abandoned.last_error.startswith("HeaderBudgetExceededError")
    assert transport.sent == []


def test_relay_refused_message_expect_later_of_its_key_held_others_sent(
    config: TaskOutboxConfig,
) -> None:
    """A refusal holds the rest of its partition key back; unkeyed tasks go on."""
    outbox = MemoryOutbox()
    _store(outbox, "K1", "K2", key="k")
    _store(outbox, "free")
    transport = ScriptedTransport(RuntimeError("refused"))
    report = _relay(outbox, transport, config).relay_once()
    assert report.published == ["t-free"]
    assert (report.refused, report.released) == (1, 1)
    follow_up = _relay(outbox, transport, config).relay_once()
    assert follow_up.published == ["t-K1", "t-K2"]


def test_relay_unreadable_row_expect_abandoned_at_once(
    config: TaskOutboxConfig,
) -> None:
    """A row that is not a task message is abandoned, never published."""
    outbox = MemoryOutbox()
    [task_id] = _store(outbox, "A")
    [row] = outbox.memory.rows.values()
    outbox.memory.rows[row.id] = replace(row, payload=b"{}")
    transport = ScriptedTransport()
    report = _relay(outbox, transport, config).relay_once()
    assert (report.abandoned, report.published, task_id) == (1, [], "t-A")
    assert str(row.id) in outbox.memory.errors[row.id]


def test_relay_storage_failure_expect_error_out_of_batch(
    config: TaskOutboxConfig,
) -> None:
    """A storage step that fails stops the batch with that error."""
    outbox = MemoryOutbox()
    _store(outbox, "A")
    outbox.memory.fail_on = "mark_published"
    with pytest.raises(ConnectionError, match="mark_published"):
        _relay(outbox, ScriptedTransport(), config).relay_once()


def test_relay_steps_without_messages_expect_empty_report() -> None:
    """Nothing claimed: nothing done."""
    report = run_steps(relay_batch([], 3), lambda step: None)
    assert report.claimed == 0
    assert report.published == []


def test_async_relay_expect_same_decisions_through_async_transport(
    config: TaskOutboxConfig,
) -> None:
    """The async relay publishes through the async transport and counts refusals."""
    outbox = MemoryOutbox()
    _store(outbox, "A", "B")
    transport = ScriptedTransport(RuntimeError("refused"))
    relay = AsyncTaskOutboxRelay(
        outbox,
        transport,
        config,
        RelaySignal(),
        async_transport=AsyncScriptedTransport(transport),
    )
    first = asyncio.run(relay.relay_once())
    second = asyncio.run(relay.relay_once())
    assert (first.refused, first.published) == (1, ["t-B"])
    assert second.published == ["t-A"]


def test_async_relay_without_async_transport_expect_sync_transport_in_thread(
    config: TaskOutboxConfig,
) -> None:
    """With no async sender the transport's sync sender publishes."""
    outbox = MemoryOutbox()
    _store(outbox, "A")
    transport = ScriptedTransport()
    relay = AsyncTaskOutboxRelay(outbox, transport, config, RelaySignal())
    assert asyncio.run(relay.relay_once()).published == ["t-A"]
    assert [m.task_id for m in transport.sent] == ["t-A"]


def test_relay_headers_over_transport_limits_expect_refused_not_sent(
    config: TaskOutboxConfig,
) -> None:
    """The relay checks the transport's limits, as the dispatcher does: the relay's
    process may carry a smaller budget than the one that stored the message."""
    outbox = MemoryOutbox()
    message = TaskMessage(
        task_name="shop.Mail.confirm",
        args=("A",),
        headers={"traceparent": "t" * 40},
        task_id="t-A",
    )
    outbox.memory.save(encode(message, partition_key=None, now=START))
    _store(outbox, "B")
    limits = HeaderLimits(max_bytes=16, budget_setting="EXAMPLE__MAX_HEADER_BYTES")
    transport = ScriptedTransport(limits=limits)
    report = _relay(outbox, transport, config).relay_once()
    assert (report.refused, report.published) == (1, ["t-B"])
    assert [m.task_id for m in transport.sent] == ["t-B"]
    [refused] = [r for r in outbox.memory.rows.values() if r.retry_count]
    reason = outbox.memory.errors[refused.id]
    assert reason.startswith("HeaderBudgetExceededError: ")
    assert "raise it with EXAMPLE__MAX_HEADER_BYTES" in reason
    relay = AsyncTaskOutboxRelay(outbox, transport, config, RelaySignal())
    assert asyncio.run(relay.relay_once()).refused == 1
