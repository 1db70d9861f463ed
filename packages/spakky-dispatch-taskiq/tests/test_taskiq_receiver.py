"""The receivers: PromptReceiver keeps an idle worker loop awake, GuardedReceiver
refuses what it must not run."""

import asyncio
import json
import logging
from collections.abc import AsyncGenerator
from typing import Any

import pytest
from taskiq import (
    AckableMessage,
    InMemoryBroker,
    TaskiqMessage,
    TaskiqMiddleware,
)
from taskiq.formatters.json_formatter import JSONFormatter
from taskiq.result_backends.dummy import DummyResultBackend

from spakky.dispatch.core import TaskNotRegisteredError
from spakky.dispatch.taskiq import (
    ENDPOINT_MARK,
    Delivery,
    DeliveryRefusedError,
    GuardedReceiver,
    PromptReceiver,
)
from spakky.dispatch.taskiq.handoff import HandOffFormatter
from spakky.dispatch.taskiq.receiver import _wake_until

from .taskiq_fakes import RecordingBroker


class DrainedBroker(RecordingBroker):
    """A broker whose queue is empty and closed: listening ends at once."""

    async def listen(self) -> AsyncGenerator[bytes, None]:
        return
        yield b""


def test_wake_until_event_set_expect_returns() -> None:
    """The waker ends as soon as shutdown is asked for."""

    async def scenario() -> None:
        event = asyncio.Event()
        waker = asyncio.ensure_future(_wake_until(event))
        await asyncio.sleep(0)
        event.set()
        await asyncio.wait_for(waker, timeout=5)

    asyncio.run(scenario())


def test_prompt_receiver_listen_ends_expect_waker_cancelled() -> None:
    """When listening ends the waker is cancelled; no task is left behind."""

    async def scenario() -> list[asyncio.Task[object]]:
        broker = DrainedBroker()
        receiver = PromptReceiver(broker, max_async_tasks=1)
        await receiver.listen(asyncio.Event())
        await asyncio.sleep(0)
        assert broker.startups == 1
        current = asyncio.current_task()
        return [task for task in asyncio.all_tasks() if task is not current]

    assert asyncio.run(scenario()) == []


# GuardedReceiver ---------------------------------------------------------------

PLACE = "shop.Orders.place"
CARD = "4111 1111 1111 1111"


class Settled:
    """What happened to one delivery."""

    def __init__(self, *, fail: BaseException | None = None) -> None:
        self.acks = 0
        self.rejects: list[str] = []
        self.fail = fail

    async def ack(self) -> None:
        self.acks += 1

    async def reject(self, reason: str) -> None:
        if self.fail is not None:
            raise self.fail
        self.rejects.append(reason)


def _delivery(data: bytes, settled: Settled) -> Delivery:
    return Delivery(
        data=data, ack=settled.ack, reject=settled.reject, dead_letters="q.dead_letter"
    )


def _message(**fields: object) -> bytes:
    message: dict[str, object] = {
        "task_id": "t-1",
        "task_name": PLACE,
        "labels": {},
        "args": ["ada"],
        "kwargs": {},
    }
    message.update(fields)
    return json.dumps(message).encode()


def _worker(ran: list[object] | None = None) -> InMemoryBroker:
    broker = InMemoryBroker()

    async def place(customer: str) -> str:
        if ran is not None:
            ran.append(customer)
        return customer

    setattr(place, ENDPOINT_MARK, True)
    broker.register_task(place, task_name=PLACE)
    return broker


def _handle(broker: InMemoryBroker, message: bytes | AckableMessage) -> None:
    async def scenario() -> None:
        await GuardedReceiver(broker, max_async_tasks=1).callback(message)

    asyncio.run(scenario())


def _stored(broker: InMemoryBroker, task_id: str = "t-1") -> Any:
    return asyncio.run(broker.result_backend.get_result(task_id))


def test_guarded_undecodable_delivery_expect_rejected_one_line_no_bytes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Bytes that are not a message go to the dead letters, logged without them."""
    settled = Settled()
    with caplog.at_level(logging.INFO):
        _handle(_worker(), _delivery(b"\xff" + CARD.encode(), settled))
    assert settled.rejects == ["cannot be decoded, not UTF-8 at byte 0"]
    assert settled.acks == 0
    [line] = [r.getMessage() for r in caplog.records]
    assert line == (
        "Refused a message: cannot be decoded, not UTF-8 at byte 0; moved to "
        "q.dead_letter"
    )


def test_guarded_unknown_task_expect_rejected_and_caller_told(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A task name nobody has is dead-lettered; its result says it is not registered."""
    broker = _worker()
    settled = Settled()
    with caplog.at_level(logging.WARNING):
        _handle(broker, _delivery(_message(task_name="shop.Old\nforged"), settled))
    assert len(settled.rejects) == 1
    [record] = caplog.records
    assert record.getMessage().startswith("Refused task shop.Old\\nforged[t-1]: ")
    result = _stored(broker)
    assert result.is_err
    assert isinstance(result.error, TaskNotRegisteredError)
    assert "shop.Old\\nforged" in str(result.error)


def test_guarded_foreign_control_label_expect_rejected_with_refusal_result() -> None:
    """An ``ack_type`` label on our endpoint: dead-lettered, the caller gets why."""
    broker = _worker()
    settled = Settled()
    _handle(broker, _delivery(_message(labels={"ack_type": "manual"}), settled))
    assert settled.rejects
    assert "ack_type" in settled.rejects[0]
    error = _stored(broker).error
    assert isinstance(error, DeliveryRefusedError)
    assert f"{PLACE}: carries taskiq's ack_type label" in str(error)


def test_guarded_refusal_without_result_backend_expect_nothing_stored() -> None:
    """With no result backend only the dead letter and the line remain."""
    broker = _worker()
    broker.result_backend = DummyResultBackend()
    settled = Settled()
    _handle(broker, _delivery(_message(task_name="gone"), settled))
    assert len(settled.rejects) == 1


def test_guarded_result_backend_failing_expect_line_and_worker_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A refusal that cannot be stored says so in a line; nothing raises."""
    broker = _worker()

    async def refuse_to_store(task_id: str, result: object) -> None:
        raise ConnectionError("backend down")

    broker.result_backend.set_result = refuse_to_store  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING):
        _handle(broker, _delivery(_message(task_name="gone"), Settled()))
    assert caplog.records[-1].getMessage() == (
        "Could not store the refusal of task gone[t-1] (ConnectionError)"
    )


def test_guarded_plain_ackable_or_bytes_expect_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Brokers without dead letters: acknowledged (dropped), said so."""
    settled = Settled()
    with caplog.at_level(logging.WARNING):
        _handle(_worker(), AckableMessage(data=b"junk", ack=settled.ack))
        _handle(_worker(), b"junk")
    assert settled.acks == 1
    assert [r.getMessage().rsplit("; ", 1)[1] for r in caplog.records] == [
        "dropped (this broker keeps no dead letters)"
    ] * 2


def test_guarded_reject_failing_expect_line_saying_it_comes_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """When the broker cannot take the message back it stays, and the line says so."""
    broker = _worker()
    settled = Settled(fail=ConnectionError("down"))
    with caplog.at_level(logging.WARNING):
        _handle(broker, _delivery(b"junk", settled))
    [record] = caplog.records
    assert record.getMessage().endswith(
        "could not be taken off the queue (ConnectionError) and will come back"
    )


def test_guarded_failure_escaping_taskiq_expect_rejected_not_left_pending() -> None:
    """A middleware raising in taskiq's callback: the message is dead-lettered."""
    ran: list[object] = []
    broker = _worker(ran)

    class Broken(TaskiqMiddleware):
        def pre_execute(self, message: TaskiqMessage) -> TaskiqMessage:
            raise RuntimeError(CARD)

    broker.add_middlewares(Broken())
    settled = Settled()
    _handle(broker, _delivery(_message(), settled))
    assert settled.rejects == ["handling it failed (RuntimeError)"]
    assert ran == []


def test_guarded_good_message_expect_run_and_acknowledged() -> None:
    """A good message runs as taskiq runs it and is acknowledged."""
    ran: list[object] = []
    broker = _worker(ran)
    settled = Settled()
    _handle(broker, _delivery(_message(), settled))
    assert ran == ["ada"]
    assert (settled.acks, settled.rejects) == (1, [])
    assert _stored(broker).return_value == "ada"


class CountingFormatter(JSONFormatter):
    """taskiq's JSON formatter, counting the messages it decodes."""

    def __init__(self) -> None:
        self.decoded = 0

    def loads(self, message: bytes) -> TaskiqMessage:
        self.decoded += 1
        return super().loads(message)


def test_guarded_message_expect_decoded_once_and_run() -> None:
    """taskiq's receiver gets the message the check decoded; the formatter is
    wrapped once however many receivers the broker has."""
    ran: list[object] = []
    broker = _worker(ran)
    counting = CountingFormatter()
    broker.formatter = counting
    settled = Settled()

    async def scenario() -> None:
        receiver = GuardedReceiver(broker, max_async_tasks=1)
        GuardedReceiver(broker, max_async_tasks=1)
        assert isinstance(broker.formatter, HandOffFormatter)
        assert broker.formatter.inner is counting
        await receiver.callback(_delivery(_message(), settled))
        await receiver.callback(_message(task_id="t-2"))

    asyncio.run(scenario())
    assert (ran, counting.decoded, settled.acks) == (["ada", "ada"], 2, 1)
    assert _stored(broker, "t-2").return_value == "ada"


def test_guarded_formatter_replaced_expect_decoded_twice_and_run() -> None:
    """A formatter set after the receiver was made is used as it is."""
    ran: list[object] = []
    broker = _worker(ran)

    async def scenario() -> CountingFormatter:
        receiver = GuardedReceiver(broker, max_async_tasks=1)
        broker.formatter = counting = CountingFormatter()
        await receiver.callback(_message())
        return counting

    assert asyncio.run(scenario()).decoded == 2
    assert ran == ["ada"]


def test_hand_off_formatter_expect_only_the_handed_bytes_taken_once() -> None:
    """Other bytes are decoded; handed bytes once; an untaken hand-off is
    forgotten; sending is the wrapped formatter's."""
    inner = CountingFormatter()
    formatter = HandOffFormatter(inner)
    data = _message()
    handed = inner.loads(data)
    formatter.hand(data, handed)
    assert formatter.loads(_message()) is not handed  # equal bytes, not these
    assert formatter.loads(data) is handed
    assert formatter.loads(data) is not handed  # taken already
    formatter.take_back(data)
    formatter.hand(data, handed)
    formatter.take_back(_message())  # not these bytes: kept
    formatter.take_back(data)
    assert formatter.loads(data) is not handed
    assert formatter.dumps(handed).message == inner.dumps(handed).message
