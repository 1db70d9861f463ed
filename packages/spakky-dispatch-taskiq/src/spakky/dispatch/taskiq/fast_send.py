"""The send fast path: the broker message and the publish, done directly.

This module is the one place that relies on how taskiq and taskiq-redis send a
message beyond their public API. ``kiq`` (and our public path, ``publish``)
builds a ``TaskiqMessage`` (validated by pydantic), dumps it with
``model_dump(mode="json")`` and hands the dict to the broker's serializer
(taskiq's ``ProxyFormatter``), wraps the bytes in a ``BrokerMessage``, and
taskiq-redis's ``kick`` then builds a new ``redis.asyncio.Redis`` client for
every message (redis-py fills a case-insensitive table of about 170 response
callbacks for each one) to send one ``XADD`` (``LPUSH`` for the list broker).
``FastSend`` takes the same steps with what can be done once done once:

- the serializer is given the dict ``model_dump(mode="json")`` would give,
  built directly, when every argument is plain JSON (``str``, ``int``,
  ``bool``, ``None``, finite ``float``, and lists and string-keyed dicts of
  them, whose JSON-mode dump is themselves); any other argument takes the
  public path, so pydantic's conversions (dates, models, tuples inside
  arguments, infinite floats) stay taskiq's;
- on a broker whose ``kick`` is taskiq-redis's own (``RedisStreamBroker``'s
  ``XADD`` or ``ListQueueBroker``'s ``LPUSH``, which our stream and list
  brokers inherit), the command goes through one long-lived client on the
  broker's connection pool, with the same key and arguments; connections are
  the pool's either way;
- on a broker whose ``kick`` is taskiq-aio-pika's own (which our RabbitMQ
  broker inherits) with one queue, the AMQP properties that ``kick``'s
  aio-pika ``Message`` would give are built directly and published on the
  channel as aio-pika's ``Exchange.publish`` does (same exchange, routing key,
  body, ``mandatory``, and the publisher confirm awaited), without building a
  ``Message`` and an ``Exchange`` per message; a priority or delay label takes
  the broker's own ``kick``.

A broker whose formatter is not taskiq's ``ProxyFormatter`` (a worker's
``HandOffFormatter`` around one counts as one), or with a
middleware that sees sent messages (``pre_send`` / ``post_send``), takes the
public path for that call.

Guard: ``fast_send_problem`` checks once that taskiq, taskiq-redis,
taskiq-aio-pika and aio-pika are the series this was compared against, that the copied functions' sources are the
ones read (``source_digest``) and that the message models have the fields in
the order the dump gives them. When they are not, ``fast_send_for`` logs one
warning and returns None: every call then takes the public path.
``tests/test_taskiq_fast_send_wire.py`` compares what lands in Redis and in a
RabbitMQ queue through both paths, field by field. After updating one of these
libraries, re-read the diffs of the functions named in ``SOURCES_SHA256``, run
that test and update the digests.
"""

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from math import isfinite
from typing import Any, Final

import aiormq
from aio_pika import DeliveryMode, Message
from aio_pika.exchange import Exchange
from redis.asyncio import Redis
from taskiq import AsyncBroker, BrokerMessage, TaskiqMessage, TaskiqMiddleware
from taskiq.formatters.proxy_formatter import ProxyFormatter
from taskiq_aio_pika import AioPikaBroker
from taskiq_redis import ListQueueBroker, RedisStreamBroker

from spakky.dispatch.core.adapter import (
    FallbackWarning,
    PublishUnconfirmedError,
    changed_checks,
    source_digest,
)
from spakky.dispatch.taskiq.broker import describe_broker
from spakky.dispatch.taskiq.handoff import unwrapped
from spakky.dispatch.taskiq.message import MESSAGE_FIELDS, publish_error

logger = logging.getLogger(__name__)

TASKIQ_SERIES: Final = frozenset({(0, 13)})
"""taskiq ``(major, minor)`` versions this path was compared against."""

TASKIQ_REDIS_SERIES: Final = frozenset({(1, 2)})
"""taskiq-redis ``(major, minor)`` versions this path was compared against."""

TASKIQ_AIO_PIKA_SERIES: Final = frozenset({(0, 6)})
"""taskiq-aio-pika ``(major, minor)`` versions this path was compared against."""

AIO_PIKA_SERIES: Final = frozenset({(10, 2)})
"""aio-pika ``(major, minor)`` versions this path was compared against."""

SOURCES_SHA256: Final[Mapping[str, str]] = {
    "ProxyFormatter.dumps": (
        "7ed3934a1fb8171296da8e2aa7060d51769e8575147c24eee93db803045c012b"
    ),
    "RedisStreamBroker.kick": (
        "d47f4a4b332b3d1638f19063f203abc69c5cb450c4930e28737c645b1161ae3f"
    ),
    "ListQueueBroker.kick": (
        "c843d66ae8a889321c32c0d21b2ef22e60695d65e98160a1d507150229c40161"
    ),
    "AioPikaBroker.kick": (
        "0d411f18cf13b34cee55cf47ecd2f09689554af263e38b6eb0c4086f3846449f"
    ),
    "Exchange.publish": (
        "edd7f2d5bedf2320a40050d86895fa96f48dad9c479fd3eb29a03db77c4bfebd"
    ),
    "Message.__init__": (
        "74637228cec8edc950a630a717b872f0eef8704471ad4b6bf9a1034de5852297"
    ),
    "Message.properties": (
        "5068585306a348597ecd3c75ea75a41d0d13ce503690b583bf03b948bde0f4a3"
    ),
}
"""SHA-256 (``source_digest``) of each function this module does the work of."""

_SCALARS: Final = frozenset({str, int, bool, type(None)})
"""Types whose JSON-mode dump is the value itself (floats must be finite)."""

_PLAIN_DEPTH: Final = 8
"""How deep lists and dicts of an argument are looked into before giving up."""

type Kick = Callable[[BrokerMessage], Coroutine[Any, Any, object]]


def _series(distribution: str) -> tuple[int, int] | None:
    try:
        major, minor = version(distribution).split(".")[:2]
        return int(major), int(minor)
    except (PackageNotFoundError, ValueError):
        return None


def _guarded() -> dict[str, object]:
    return {
        "ProxyFormatter.dumps": ProxyFormatter.dumps,
        "RedisStreamBroker.kick": RedisStreamBroker.kick,
        "ListQueueBroker.kick": ListQueueBroker.kick,
        "AioPikaBroker.kick": AioPikaBroker.kick,
        "Exchange.publish": Exchange.publish,
        "Message.__init__": Message.__init__,
        "Message.properties": vars(Message)["properties"].fget,
    }


@cache
def fast_send_problem() -> str | None:
    """Why the fast path does not fit the installed taskiq and brokers, or None."""
    for distribution, series in (
        ("taskiq", TASKIQ_SERIES),
        ("taskiq-redis", TASKIQ_REDIS_SERIES),
        ("taskiq-aio-pika", TASKIQ_AIO_PIKA_SERIES),
        ("aio-pika", AIO_PIKA_SERIES),
    ):
        if _series(distribution) not in series:
            return f"{distribution} is not a series the fast path was checked on"
    try:
        found = _guarded()
        checks = {
            f"{name} source": source_digest(found[name]) == digest
            for name, digest in SOURCES_SHA256.items()
        }
        checks["TaskiqMessage fields"] = (
            tuple(TaskiqMessage.model_fields) == MESSAGE_FIELDS
        )
        checks["BrokerMessage fields"] = set(BrokerMessage.model_fields) == {
            "task_id",
            "task_name",
            "message",
            "labels",
        }
    except (AttributeError, TypeError, OSError, ValueError) as error:
        return f"taskiq or its brokers changed ({type(error).__name__})"
    return changed_checks(checks)


_warn = FallbackWarning(
    logger,
    "spakky-taskiq: this taskiq, taskiq-redis, taskiq-aio-pika or aio-pika "
    "differs from the one its send "
    "fast path was written for (%s); tasks are sent the way kiq sends them, "
    "which is correct but slower. Update spakky-taskiq.",
)
"""Logs the probe's finding once per process."""


def fast_send_for(broker: AsyncBroker) -> "FastSend | None":
    """The fast path for ``broker``, or None (one warning) when
    ``fast_send_problem`` finds the installed libraries changed."""
    problem = fast_send_problem()
    if problem is not None:
        _warn(problem)
        return None
    return FastSend(broker)


def plain(value: object, depth: int = _PLAIN_DEPTH) -> bool:
    """Whether ``value``'s JSON-mode dump is ``value`` itself (see the module)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return True
    if kind is float:
        return isfinite(value)  # type: ignore[arg-type]
    if depth == 0:
        return False
    if kind is list:
        return all(plain(each, depth - 1) for each in value)  # type: ignore[attr-defined]
    if kind is dict:
        return all(
            type(key) is str and plain(each, depth - 1)
            for key, each in value.items()  # type: ignore[attr-defined]
        )
    return False


def _stream_kick(broker: RedisStreamBroker, client: Redis) -> Kick:
    async def kick(message: BrokerMessage) -> object:
        queue_name = message.labels.get("queue_name") or broker.queue_name
        return await client.xadd(
            queue_name,
            {b"data": message.message},
            maxlen=broker.maxlen,
            approximate=broker.approximate,
        )

    return kick


def _list_kick(broker: ListQueueBroker, client: Redis) -> Kick:
    async def kick(message: BrokerMessage) -> object:
        queue_name = message.labels.get("queue_name") or broker.queue_name
        return await client.lpush(queue_name, message.message)

    return kick


def _amqp_kick(broker: AioPikaBroker) -> Kick:
    """taskiq-aio-pika's ``kick`` for a broker with one queue, without building
    an aio-pika ``Message`` and ``Exchange`` per message: the same properties
    (``Message.properties`` of what ``kick`` builds) published the way
    ``Exchange.publish`` does. A priority or delay label, or a broker not
    started, takes the broker's own ``kick``."""
    [queue] = broker._task_queues
    routing_key = queue.routing_key or queue.name
    exchange = broker._exchange.name
    priority_label = broker._label_for_priority

    async def kick(message: BrokerMessage) -> object:
        labels = message.labels
        channel = broker.write_channel
        if (
            channel is None
            or labels.get(priority_label) is not None
            or labels.get("delay") is not None
        ):
            await broker.kick(message)
            return None
        if channel.is_closed:
            raise aiormq.exceptions.ChannelInvalidStateError(f"{channel!r} closed")
        properties = aiormq.spec.Basic.Properties(
            app_id=None,
            content_encoding=None,
            content_type=None,
            correlation_id=None,
            delivery_mode=DeliveryMode.PERSISTENT,
            expiration=None,
            headers={
                "task_id": message.task_id,
                "task_name": message.task_name,
                **labels,
            },
            message_id=None,
            message_type=None,
            priority=0,
            reply_to=None,
            timestamp=None,
            user_id=None,
        )
        underlay = await channel.get_underlay_channel()
        return await underlay.basic_publish(
            exchange=exchange,
            routing_key=routing_key,
            body=message.message,
            properties=properties,
            mandatory=True,
            immediate=False,
            timeout=None,
        )

    return kick


def kick_of(broker: AsyncBroker) -> Kick:
    """``broker.kick``, or the same publish done directly when it is
    taskiq-redis's own stream or list ``kick`` (on one long-lived client) or
    taskiq-aio-pika's with one queue."""
    kick = getattr(broker.kick, "__func__", None)  # an instance's own kick stays
    if kick is RedisStreamBroker.kick and isinstance(broker, RedisStreamBroker):
        return _stream_kick(broker, Redis(connection_pool=broker.connection_pool))
    if kick is ListQueueBroker.kick and isinstance(broker, ListQueueBroker):
        return _list_kick(broker, Redis(connection_pool=broker.connection_pool))
    if (
        kick is AioPikaBroker.kick
        and isinstance(broker, AioPikaBroker)
        and len(broker._task_queues) == 1
    ):
        return _amqp_kick(broker)
    return broker.kick


def send_hooks(broker: AsyncBroker) -> bool:
    """Whether a middleware of ``broker`` sees sent messages."""
    for middleware in broker.middlewares:
        kind = type(middleware)
        if (
            kind.pre_send is not TaskiqMiddleware.pre_send
            or kind.post_send is not TaskiqMiddleware.post_send
        ):
            return True
    return False


class FastSend:
    """The fast path for one broker: its message build and its ``kick``."""

    __slots__ = ("_broker", "_hooks", "_kick", "_seen")

    _broker: AsyncBroker
    _kick: Kick
    _seen: tuple[list[TaskiqMiddleware], int] | None
    _hooks: bool

    def __init__(self, broker: AsyncBroker) -> None:
        self._broker = broker
        self._kick = kick_of(broker)
        self._seen = None
        self._hooks = False

    def _send_hooks(self) -> bool:
        """``send_hooks``, worked out again only when the middlewares changed
        (taskiq appends them to ``broker.middlewares``)."""
        middlewares = self._broker.middlewares
        seen = self._seen
        if seen is None or seen[0] is not middlewares or seen[1] != len(middlewares):
            self._hooks = send_hooks(self._broker)
            self._seen = (middlewares, len(middlewares))
        return self._hooks

    def wire(
        self,
        task_id: str,
        task_name: str,
        labels: dict[str, Any],
        types: dict[str, int],
        args: tuple[object, ...],
        kwargs: Mapping[str, object],
    ) -> BrokerMessage | None:
        """What ``ProxyFormatter.dumps`` makes of this message, or None when
        this call must take the public path (see the module)."""
        broker = self._broker
        formatter = unwrapped(broker.formatter)
        if (
            type(formatter) is not ProxyFormatter
            or formatter.broker is not broker
            or self._send_hooks()
        ):
            return None
        for each in args:
            if type(each) not in _SCALARS and not plain(each):
                return None
        for each in kwargs.values():
            if type(each) not in _SCALARS and not plain(each):
                return None
        dumped = {
            "task_id": task_id,
            "task_name": task_name,
            "labels": labels,
            "labels_types": types,
            "args": list(args),
            "kwargs": dict(kwargs),
        }
        try:
            body = broker.serializer.dumpb(dumped)
        except Exception:  # the public path names the argument
            return None
        return BrokerMessage(
            task_id=task_id, task_name=task_name, message=body, labels=labels
        )

    async def send(
        self, broker: AsyncBroker, *, wire: BrokerMessage, timeout: float
    ) -> None:
        """``kick`` ``wire`` within ``timeout`` seconds, with ``publish``'s errors
        (a ``BrokerWork``: ``broker`` is this path's broker).

        Raises:
            PublishUnconfirmedError: The broker did not answer in time.
            BrokerConfigurationError: See ``publish``.
            BrokerUnavailableError: See ``publish``.
            BrokerRejectedError: See ``publish``.
        """
        try:
            async with asyncio.timeout(timeout):
                await self._kick(wire)
        except TimeoutError as error:
            raise PublishUnconfirmedError(
                f"{wire.task_name}: {describe_broker(broker)} did not answer "
                f"within {timeout}s; the task may or may not have been queued"
            ) from error
        except Exception as error:
            where = describe_broker(broker)
            raise publish_error(wire.task_name, where, error) from error
