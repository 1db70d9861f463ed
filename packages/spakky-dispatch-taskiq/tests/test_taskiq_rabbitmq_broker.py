"""The RabbitMQ broker on a real RabbitMQ: dead letters and the delivery limit.

Each test declares queues of its own on the shared RabbitMQ and deletes them.
"""

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from types import SimpleNamespace
from typing import Any

import aio_pika
import pytest
from taskiq import AckableMessage, TaskiqMessage
from taskiq_aio_pika import AioPikaBroker, QueueType

from spakky.dispatch.taskiq import Delivery, RabbitQueueBroker, amqp_broker
from spakky.dispatch.taskiq.amqp_broker import delivery_count, incoming_of

from .conftest import AMQP_URL as URL

pytestmark = pytest.mark.broker


@pytest.fixture
def queue(amqp_queue: str) -> str:
    """A queue of this test; it and its dead letters are deleted after."""
    return amqp_queue


def _broker(queue: str, *, limit: int = 5, kind: QueueType = QueueType.QUORUM) -> Any:
    broker = RabbitQueueBroker(
        URL,
        queue_name=queue,
        exchange_name="spakky-test-taskiq",
        queue_type=kind,
        max_deliveries=limit,
    )
    broker.is_worker_process = True
    return broker


async def _send(broker: Any, job: str) -> None:
    message = TaskiqMessage(
        task_id=job, task_name="m.C.t", labels={}, args=[job], kwargs={}
    )
    await broker.kick(broker.formatter.dumps(message))


async def _next(deliveries: AsyncIterator[Any], timeout: float = 10.0) -> Any:
    return await asyncio.wait_for(anext(deliveries), timeout)


async def _dead_letters(queue: str) -> list[bytes]:
    connection = await aio_pika.connect(URL)
    bodies = []
    async with connection:
        channel = await connection.channel()
        dead = await channel.get_queue(f"{queue}.dead_letter")
        while (message := await dead.get(fail=False, timeout=5)) is not None:
            bodies.append(message.body)
            await message.ack()
    return bodies


def test_rabbit_reject_expect_message_in_dead_letters(queue: str) -> None:
    """A refused delivery is rejected into ``<queue>.dead_letter``; acks are plain."""

    async def scenario() -> list[bytes]:
        broker = _broker(queue)
        await broker.startup()
        try:
            await _send(broker, "good")
            await _send(broker, "bad")
            deliveries = broker.listen()
            good, bad = await _next(deliveries), await _next(deliveries)
            assert isinstance(good, Delivery)
            assert (good.deliveries, good.dead_letters) == (1, f"{queue}.dead_letter")
            await good.ack()
            await bad.reject("refused")
            await bad.reject("again: settled already, nothing happens")
        finally:
            await broker.shutdown()
        return await _dead_letters(queue)

    [body] = asyncio.run(scenario())
    assert b'"bad"' in body


def test_rabbit_redelivered_past_limit_expect_dead_lettered_with_one_line(
    queue: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A quorum queue counts deliveries; past the limit the message is not run."""

    async def scenario() -> list[bytes]:
        for attempt in (1, 2):
            worker = _broker(queue, limit=2)
            await worker.startup()
            if attempt == 1:
                await _send(worker, "killer")
            delivery = await _next(worker.listen())
            assert delivery.deliveries == attempt
            await worker.shutdown()  # gone without an acknowledgement
        last = _broker(queue, limit=2)
        await last.startup()
        try:
            with pytest.raises(TimeoutError):
                await _next(last.listen(), timeout=2.0)
        finally:
            await last.shutdown()
        return await _dead_letters(queue)

    with caplog.at_level(logging.WARNING, logger=amqp_broker.__name__):
        [body] = asyncio.run(scenario())
    assert b'"killer"' in body
    [record] = caplog.records
    assert record.getMessage() == (
        "Refused task m.C.t[killer]: delivered 2 times without being acknowledged "
        f"(did it stop its worker each time?); moved to {queue}.dead_letter"
    )


def test_rabbit_classic_queue_expect_no_count(queue: str) -> None:
    """A classic queue counts nothing: every delivery reads as the first."""

    async def scenario() -> list[int]:
        counts = []
        for attempt in (1, 2):
            worker = _broker(queue, limit=1, kind=QueueType.CLASSIC)
            await worker.startup()
            if attempt == 1:
                await _send(worker, "again")
            delivery = await _next(worker.listen())
            counts.append(delivery.deliveries)
            if attempt == 2:
                await delivery.ack()
            await worker.shutdown()
        return counts

    assert asyncio.run(scenario()) == [1, 1]


def test_rabbit_message_not_from_aio_pika_expect_passed_on_unchanged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The probe's fallback: a message it cannot read back is passed on as it is."""

    async def ack() -> None:
        """Not aio-pika's."""

    plain = AckableMessage(data=b"x", ack=ack)

    async def stock_listen(self: object) -> AsyncGenerator[AckableMessage, None]:
        yield plain
        yield plain

    monkeypatch.setattr(AioPikaBroker, "listen", stock_listen)
    broker = _broker("unused")

    async def scenario() -> list[object]:
        return [message async for message in broker.listen()]

    assert asyncio.run(scenario()) == [plain, plain]
    assert incoming_of(plain) is None


@pytest.mark.parametrize(
    ("headers", "count"),
    [
        (None, 0),
        ({}, 0),
        ({"x-delivery-count": 3}, 3),
        ({"x-delivery-count": -1}, 0),
        ({"x-delivery-count": True}, 0),
        ({"x-delivery-count": "3"}, 0),
    ],
)
def test_delivery_count_expect_only_non_negative_integers(
    headers: dict[str, object] | None, count: int
) -> None:
    """Only a proper count counts; anything else reads as no earlier delivery."""
    assert delivery_count(SimpleNamespace(headers=headers)) == count  # type: ignore[arg-type]
