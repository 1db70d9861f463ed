"""The send fast path sends what ``kiq`` and the public path send.

Each case is sent three times on a real Redis (DB 9) and a real RabbitMQ:
with taskiq's own ``kiq`` (the task's kicker, given the same task id and labels), through
``TaskiqTaskSender`` on the public path (``TaskiqMessage``, the broker's
formatter, the broker's ``kick``) and through its fast path (``fast_send``).
What lands in the queue is compared field by field: the stream entry's fields
(the list item for the list broker), the bytes of the message, and its decoded
fields; on RabbitMQ the exchange, routing key, body and every AMQP property
(but the ``message_id`` aiormq draws at random for each publish). Nothing
else is normalised: the task id is given, and the control labels of these
options do not depend on the send time.
"""

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import aio_pika
import pytest
import redis
from taskiq import AsyncBroker
from taskiq_aio_pika import AioPikaBroker, Exchange, Queue, QueueType
from taskiq_redis import ListQueueBroker, RedisStreamBroker

from spakky.dispatch.core import DispatchOptions
from spakky.dispatch.core.adapter import TaskMessage
from spakky.dispatch.taskiq import (
    BrokerLoop,
    RabbitQueueBroker,
    RedisListQueueBroker,
    RedisStreamQueueBroker,
    TaskiqTaskSender,
)
from spakky.dispatch.taskiq import sender as sender_module
from spakky.dispatch.taskiq.fast_send import FastSend
from spakky.dispatch.taskiq.message import control_labels

from .conftest import AMQP_URL
from .conftest import REDIS_URL as URL

pytestmark = pytest.mark.broker


type Loops = Callable[..., BrokerLoop]

CASES = [
    TaskMessage(
        task_name="wire.Bench.awork", args=(1, "abc"), kwargs={"k": 2}, task_id="t-1"
    ),
    TaskMessage(
        task_name="wire.Shop.place",
        args=([1, 2.5, None, True, -7], {"a": ["x", {"b": 'é\u2603\n"q"'}]}),
        kwargs={"text": "ünï", "empty": [], "nested": {}},
        headers={"traceparent": "00-abc-def-01", "x-user": "ada"},
        task_id="t-2",
    ),
    TaskMessage(
        task_name="wire.Shop.later",
        args=("tea",),
        options=DispatchOptions(
            eta=datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC),
            expires=datetime(2031, 1, 1, tzinfo=UTC),
            ignore_result=True,
        ),
        headers={"traceparent": "00-abc-def-02"},
        task_id="t-3",
    ),
]


def _brokers() -> dict[str, Callable[[str], AsyncBroker]]:
    return {
        "stream": lambda queue: RedisStreamQueueBroker(
            URL, queue_name=queue, redelivery_timeout=30.0, max_deliveries=5
        ),
        "list": lambda queue: RedisListQueueBroker(URL, queue_name=queue),
        "taskiq-redis stream": lambda queue: RedisStreamBroker(
            URL, queue_name=queue, consumer_id="0"
        ),
        "taskiq-redis list": lambda queue: ListQueueBroker(URL, queue_name=queue),
    }


@pytest.fixture
def queue(redis_queue: str) -> str:
    """A Redis queue of this test (deleted after it)."""
    return redis_queue


def _sent(queue: str, kind: str) -> list[dict[bytes, bytes]]:
    """What the queue holds, oldest first, as field maps."""
    client = redis.Redis.from_url(URL)
    if "list" in kind:
        return [{b"data": item} for item in reversed(client.lrange(queue, 0, -1))]
    return [fields for _, fields in client.xrange(queue)]


async def _kiq(broker: AsyncBroker, message: TaskMessage) -> None:
    """``message`` sent with taskiq's own kicker, as a raw application would."""
    task = broker.register_task(lambda *args, **kwargs: None, message.task_name)
    labels: dict[str, Any] = dict(message.headers)
    labels.update(control_labels(message.task_name, message.options, 0.0))
    kicker = task.kicker().with_task_id(message.task_id).with_labels(**labels)
    await kicker.kiq(*message.args, **message.kwargs)


@pytest.mark.parametrize("kind", list(_brokers()))
def test_fast_send_expect_same_wire_as_kiq_and_public_path(
    loops: Loops, queue: str, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every case lands in Redis byte for byte as kiq and the public path put it."""
    broker = _brokers()[kind](queue)
    loop = loops(broker)
    fast, public = TaskiqTaskSender(loop), TaskiqTaskSender(loop)

    async def scenario() -> None:
        await fast.send_async(CASES[0])  # starts the broker on this loop
        with monkeypatch.context() as patch:
            patch.setattr(sender_module, "fast_send_for", lambda broker: None)
            await public.send_async(CASES[0])
        for message in CASES:
            await _kiq(broker, message)
            await public.send_async(message)
            await fast.send_async(message)

    asyncio.run(scenario())
    assert isinstance(fast._fast, FastSend)
    assert public._fast is None
    assert not hasattr(fast._fast._kick, "__self__")  # the long-lived client's
    entries = _sent(queue, kind)[2:]
    assert len(entries) == 3 * len(CASES)
    for index, message in enumerate(CASES):
        by_kiq, by_public, by_fast = entries[3 * index : 3 * index + 3]
        assert by_fast.keys() == by_public.keys() == by_kiq.keys() == {b"data"}
        decoded = [json.loads(each[b"data"]) for each in (by_kiq, by_public, by_fast)]
        assert decoded[2] == decoded[1] == decoded[0], message.task_name
        for name in ("task_id", "task_name", "labels", "labels_types", "args"):
            assert decoded[2][name] == decoded[0][name], name
        assert decoded[2]["kwargs"] == decoded[0]["kwargs"]
        assert by_fast[b"data"] == by_public[b"data"] == by_kiq[b"data"]


PROPERTIES = (
    "app_id",
    "content_encoding",
    "content_type",
    "correlation_id",
    "delivery_mode",
    "expiration",
    "headers",
    "priority",
    "reply_to",
    "timestamp",
    "type",
    "user_id",
)
"""What an AMQP message carries besides its body, compared one by one; aiormq
gives every publish a random ``message_id``, checked apart."""


def _amqp_brokers() -> dict[str, Callable[[str], AsyncBroker]]:
    return {
        "rabbitmq": lambda queue: RabbitQueueBroker(
            AMQP_URL,
            queue_name=queue,
            exchange_name="spakky-test-wire",
            queue_type=QueueType.QUORUM,
            max_deliveries=5,
        ),
        "taskiq-aio-pika": lambda queue: AioPikaBroker(
            AMQP_URL,
            exchange=Exchange(name="spakky-test-wire"),
            task_queues=[Queue(name=queue, type=QueueType.QUORUM)],
        ),
    }


async def _received(queue: str, count: int) -> list[Any]:
    """The first ``count`` messages of ``queue``, in order, taken off it."""
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        source = await channel.get_queue(queue, ensure=False)
        taken = []
        while len(taken) < count:
            message = await source.get(no_ack=True, fail=False, timeout=5)
            if message is None:
                await asyncio.sleep(0.05)
                continue
            taken.append(message)
        return taken


@pytest.mark.parametrize("kind", list(_amqp_brokers()))
def test_fast_send_amqp_expect_same_message_as_kiq_and_public_path(
    loops: Loops, amqp_queue: str, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every case reaches the RabbitMQ queue as kiq and the public path send it:
    exchange, routing key, body and every property."""
    broker = _amqp_brokers()[kind](amqp_queue)
    loop = loops(broker)
    fast, public = TaskiqTaskSender(loop), TaskiqTaskSender(loop)

    async def scenario() -> list[Any]:
        await fast.send_async(CASES[0])  # starts the broker on this loop
        with monkeypatch.context() as patch:
            patch.setattr(sender_module, "fast_send_for", lambda broker: None)
            await public.send_async(CASES[0])
        for message in CASES:
            await _kiq(broker, message)
            await public.send_async(message)
            await fast.send_async(message)
        return await _received(amqp_queue, 2 + 3 * len(CASES))

    received = asyncio.run(scenario())[2:]
    assert isinstance(fast._fast, FastSend)
    assert public._fast is None
    assert not hasattr(fast._fast._kick, "__self__")  # the direct publish
    for index, message in enumerate(CASES):
        trio = received[3 * index : 3 * index + 3]
        by_kiq, by_public, by_fast = trio
        for name in PROPERTIES:
            values = [getattr(each, name) for each in trio]
            assert values[2] == values[1] == values[0], (message.task_name, name)
        assert by_fast.body == by_public.body == by_kiq.body
        assert by_fast.exchange == by_public.exchange == by_kiq.exchange
        assert by_fast.routing_key == by_public.routing_key == by_kiq.routing_key
        assert by_fast.headers["task_id"] == message.task_id
        assert all(len(each.message_id or "") == 32 for each in trio)
