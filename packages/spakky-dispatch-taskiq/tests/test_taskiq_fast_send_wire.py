"""The send fast path puts in Redis what ``kiq`` and the public path put there.

Each case is sent three times on a real Redis (DB 9): with taskiq's own
``kiq`` (the task's kicker, given the same task id and labels), through
``TaskiqTaskSender`` on the public path (``TaskiqMessage``, the broker's
formatter, the broker's ``kick``) and through its fast path (``fast_send``).
What lands in the queue is compared field by field: the stream entry's fields
(the list item for the list broker), the bytes of the message, and its decoded
fields. Nothing is normalised: the task id is given, and the control labels of
these options do not depend on the send time.
"""

import asyncio
import json
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import redis
from taskiq import AsyncBroker
from taskiq_redis import ListQueueBroker, RedisStreamBroker

from spakky.dispatch.core import DispatchOptions
from spakky.dispatch.core.adapter import TaskMessage
from spakky.dispatch.taskiq import (
    BrokerLoop,
    RedisListQueueBroker,
    RedisStreamQueueBroker,
    TaskiqTaskSender,
)
from spakky.dispatch.taskiq import sender as sender_module
from spakky.dispatch.taskiq.fast_send import FastSend
from spakky.dispatch.taskiq.message import control_labels

pytestmark = pytest.mark.broker

URL = "redis://127.0.0.1:6379/9"

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
def queue() -> Iterator[str]:
    """A queue of this test; deleted after it."""
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("Redis is not reachable on 127.0.0.1:6379; CI must start it")
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    name = f"spakky-test-wire-{uuid.uuid4().hex[:10]}"
    yield name
    redis.Redis.from_url(URL).delete(name, f"{name}.dead_letter")


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
