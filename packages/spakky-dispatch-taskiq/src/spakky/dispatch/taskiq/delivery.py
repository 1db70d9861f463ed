"""``Delivery``: a received message the worker acknowledges or dead-letters.

This adapter's brokers hand the receiver ``Delivery`` objects instead of
taskiq's plain ``AckableMessage``: besides ``ack`` (done, remove it) they offer
``reject`` (refused, keep it as a dead letter with the reason), so a message the
worker cannot or must not run leaves the queue without being lost.
"""

import time
from collections.abc import Awaitable, Callable

from taskiq import AckableMessage, TaskiqMessage
from taskiq.abc.formatter import TaskiqFormatter

from spakky.dispatch.core.adapter import printable

DEAD_LETTER_SUFFIX = ".dead_letter"
"""Appended to a queue's name to name where its rejected messages go."""

DEAD_LETTER_MAXLEN = 10_000
"""Dead letters a Redis queue keeps at most (about; the oldest go first)."""


def dead_letter_name(queue: str) -> str:
    """Where rejected messages of ``queue`` go: ``<queue>.dead_letter``."""
    return f"{queue}{DEAD_LETTER_SUFFIX}"


class Delivery(AckableMessage):
    """A received message that can be acknowledged, or rejected into dead letters."""

    reject: Callable[[str], Awaitable[None]]
    """Take the message off the queue and keep it as a dead letter; the
    argument says why, in a short text without message contents."""

    dead_letters: str
    """Where rejected messages go (a Redis key or a RabbitMQ queue), for log lines."""

    deliveries: int = 1
    """How many times the broker has handed this message to a worker, this time
    included (1 where the broker does not count)."""


def dead_letter_fields(
    data: bytes, reason: str, source: str, deliveries: int
) -> dict[bytes, bytes]:
    """The fields of a dead letter kept in Redis: the message and why it is there."""
    return {
        b"data": data,
        b"reason": printable(reason, limit=500).encode(),
        b"source": source.encode(),
        b"deliveries": str(deliveries).encode(),
        b"at": str(round(time.time(), 3)).encode(),
    }


def describe(message: TaskiqMessage | None) -> str:
    """``task <name>[<id>]`` for a log line (escaped), or ``a message``."""
    if message is None:
        return "a message"
    return f"task {printable(message.task_name)}[{printable(message.task_id)}]"


def peek(formatter: TaskiqFormatter, data: bytes) -> str:
    """``describe`` of ``data`` when ``formatter`` can decode it."""
    try:
        return describe(formatter.loads(data))
    except Exception:
        return "an undecodable message"
