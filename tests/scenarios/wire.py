"""The wire: what a caller put on the broker, and messages of other producers.

``take_queued`` reads the messages of a queue no worker consumes;
``send_foreign`` publishes a task message as a producer other than spakky
would, with the transport's own client and any header values.
"""

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import redis
from celery import Celery
from kombu import Connection
from spakky.core.application.application import SpakkyApplication
from taskiq import AsyncBroker
from taskiq.kicker import AsyncKicker

from spakky.dispatch.core.adapter import ITaskHandle, ITaskSender
from spakky.dispatch.taskiq import BrokerLoop
from tests.scenarios.transports import CELERY, Transport, drop_taskiq_queue
from tests.support.brokers import REDIS, Broker


@dataclass(frozen=True, slots=True, kw_only=True)
class Queued:
    """One message as the broker holds it."""

    raw: bytes
    """Every byte of it: body, headers and properties (decoded where encoded)."""

    headers: dict[str, object] = field(default_factory=dict)
    """Its task headers (Celery's message headers, taskiq's labels)."""


def take_queued(transport: Transport, broker: Broker, queue: str) -> list[Queued]:
    """Take every message waiting in ``queue`` off the broker, oldest first."""
    if broker is REDIS and transport is CELERY:
        return _celery_redis(broker, queue)
    if broker is REDIS:
        return _taskiq_redis(broker, queue)
    return _amqp(broker, queue, celery=transport is CELERY)


def drop_queue(transport: Transport, broker: Broker, queue: str) -> None:
    """Delete ``queue`` (and a taskiq queue's dead letters) from the broker."""
    if transport is not CELERY:
        drop_taskiq_queue(broker, queue)
    elif broker is REDIS:
        redis.Redis.from_url(broker.url).delete(queue)
    else:
        with Connection(broker.url) as connection:
            connection.default_channel.queue_delete(queue)


def _celery_redis(broker: Broker, queue: str) -> list[Queued]:
    """Celery keeps a JSON envelope per message in a list, its body in base64."""
    client = redis.Redis.from_url(broker.url)
    stored: list[bytes] = client.lrange(queue, 0, -1)
    client.delete(queue)
    found = []
    for entry in reversed(stored):  # LPUSH: the newest first
        envelope = json.loads(entry)
        body = base64.b64decode(envelope["body"])
        found.append(Queued(raw=entry + b"\n" + body, headers=envelope["headers"]))
    return found


def _taskiq_redis(broker: Broker, queue: str) -> list[Queued]:
    """taskiq's stream entries: the message's JSON in the field ``data``."""
    client = redis.Redis.from_url(broker.url)
    entries = client.xrange(queue)
    found = []
    for _, fields in entries:
        data: bytes = fields[b"data"]
        found.append(Queued(raw=data, headers=json.loads(data)["labels"]))
    return found


def _amqp(broker: Broker, queue: str, *, celery: bool) -> list[Queued]:
    """RabbitMQ's messages, with their properties (Celery's headers live there)."""
    found = []
    with Connection(broker.url) as connection:
        channel = connection.default_channel
        while (message := channel.basic_get(queue=queue, no_ack=True)) is not None:
            body = message.body  # py-amqp decodes utf-8 bodies to str
            data = body.encode() if isinstance(body, str) else bytes(body)
            if celery:
                headers = dict(message.properties.get("application_headers") or {})
            else:  # taskiq: the labels travel in the body
                headers = json.loads(data)["labels"]
            raw = data + repr(message.properties).encode()
            found.append(Queued(raw=raw, headers=headers))
    return found


def send_foreign(
    transport: Transport,
    app: SpakkyApplication,
    task_name: str,
    headers: dict[str, object],
) -> ITaskHandle[Any] | Any:
    """Publish ``task_name`` with exactly ``headers``, bypassing spakky's pipeline.

    Celery's ``send_task`` or taskiq's ``AsyncKicker``, on ``app``'s own
    connection and queue. Returns something with ``get(timeout)``.
    """
    container = app.container
    if transport is CELERY:
        return container.get(Celery).send_task(task_name, headers=headers or None)

    async def kick(broker: AsyncBroker) -> str:
        sent = await AsyncKicker(task_name, broker, labels=headers).kiq()
        return str(sent.task_id)

    task_id = container.get(BrokerLoop).run(kick)
    return container.get(ITaskSender).result_for(task_id)  # type: ignore[type-abstract]
