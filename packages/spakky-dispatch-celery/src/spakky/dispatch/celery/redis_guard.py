"""Worker-side kombu Redis transport that no list item or broadcast can stop.

kombu's Redis channel parses each list item it pops with ``loads`` before any
consumer callback runs: an item that is not UTF-8 or JSON, a JSON list, or
nesting too deep raises and stops the worker ("Unrecoverable error"), and
``Message.__init__`` base64-decodes the body; its pub/sub path (Celery's
remote control) logs data that is not JSON whole and raises on deep nesting.
``GuardedRedisChannel`` refuses such items and broadcasts with one log line
naming no contents (list items move, as read, to the queue's dead-letter
list) and acknowledges through ``GuardedQoS``, which settles what a broken
connection left owed (``redis_unacked``).

Imported only for Redis brokers (it loads redis-py); ``worker_transport``
chooses it and checks first that kombu still has the shape this code was
written against (``redis_shape_checks``).
"""

import binascii
import inspect
import logging
from collections.abc import Callable
from queue import Empty
from typing import Any, Final

from kombu.transport import redis as kombu_redis
from kombu.transport.virtual import base as virtual
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import dumps, loads

from spakky.dispatch.celery.inflate import InflatePolicy, MessageRefused
from spakky.dispatch.celery.logs import escape
from spakky.dispatch.celery.redis_unacked import (
    Detached,
    UnackedRecovery,
    attached,
    live,
    reject_in_redis,
)
from spakky.dispatch.celery.worker_keys import (
    DEFAULT_DEAD_LETTER_LIMIT,
    REDELIVERIES_HEADER,
)
from spakky.dispatch.celery.worker_transport import (
    ShownAsScheme,
    _PolicyMessage,
    digests_match,
)
from spakky.dispatch.core.adapter import source_text

logger = logging.getLogger(__name__)

DEAD_LETTER_SUFFIX = ".dead-letter"
"""Redis: refused messages of queue ``q`` go to the list ``q.dead-letter``."""

MAX_ENVELOPE_DEPTH = 32
"""Deepest nesting of a Redis envelope's JSON a worker accepts."""


def envelope_depth_problem(payload: object, limit: int = MAX_ENVELOPE_DEPTH) -> bool:
    """Whether ``payload`` nests containers deeper than ``limit`` (no recursion)."""
    stack: list[tuple[object, int]] = [(payload, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(value, dict):
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
    return False


def parse_envelope(item: bytes) -> dict[str, Any]:
    """The kombu envelope in a Redis list item; raises ``MessageRefused`` naming why."""
    try:
        text = item.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MessageRefused(f"it is not valid UTF-8 at byte {error.start}") from None
    try:
        payload = loads(text)
    except RecursionError:
        raise MessageRefused("its JSON nests too deep to parse") from None
    except ValueError as error:
        where = getattr(error, "pos", None)
        at = f" at character {where}" if isinstance(where, int) else ""
        raise MessageRefused(f"it is not JSON{at}") from None
    if not isinstance(payload, dict):
        raise MessageRefused(f"it is a JSON {type(payload).__name__}, not an object")
    properties = payload.get("properties")
    info = properties.get("delivery_info") if isinstance(properties, dict) else None
    if (
        not isinstance(properties, dict)
        or not isinstance(info, dict)
        or "exchange" not in info
        or "routing_key" not in info
        or not isinstance(properties.get("delivery_tag"), str | int)
    ):
        raise MessageRefused("its envelope lacks kombu's properties")
    for name, kinds in (("headers", dict), ("body", str), ("content-type", str)):
        if payload.get(name) is not None and not isinstance(payload[name], kinds):
            raise MessageRefused(f"its {name!r} is a {type(payload[name]).__name__}")
    if _may_nest_too_deep(item) and envelope_depth_problem(payload):
        raise MessageRefused(f"it nests deeper than {MAX_ENVELOPE_DEPTH} levels")
    return payload


def _may_nest_too_deep(item: bytes) -> bool:
    """Whether ``item`` has enough brackets to nest past ``MAX_ENVELOPE_DEPTH``.

    A value nests at most one level deeper than the ``{`` and ``[`` it sits
    in, so an item with fewer than the limit (a task message has about ten;
    its body is base64) cannot be too deep and skips the walk.
    """
    return item.count(b"{") + item.count(b"[") >= MAX_ENVELOPE_DEPTH


class GuardedRedisMessage(virtual.Message, _PolicyMessage):
    """A Redis message of a guarded channel; a body that is not base64 is refused."""

    def __init__(self, payload: Any, channel: Any = None, **kwargs: Any) -> None:
        try:
            super().__init__(payload, channel=channel, **kwargs)
        except (binascii.Error, ValueError, TypeError):
            super().__init__({**payload, "body": ""}, channel=channel, **kwargs)
            self._raw = payload
            self.errors = [
                (MessageRefused, MessageRefused("its body is not valid base64"), None)
            ]


class GuardedQoS(kombu_redis.QoS):
    """kombu's Redis QoS that settles what a broken connection could not.

    A message rejected without requeue is dead-lettered (``dead_letter_by_tag``
    of the channel). With an ``UnackedRecovery`` on the channel, an
    acknowledgement, rejection or restore that cannot reach Redis (the
    connection broke, or Celery detached it) is recorded there and settled
    on reconnecting, instead of raising or stopping the worker.
    """

    channel: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        recovery = self.recovery
        if recovery is not None:
            recovery.track(self)

    @property
    def recovery(self) -> UnackedRecovery | None:
        """The consumer's recovery, or None (kombu's behaviour)."""
        found: UnackedRecovery | None = getattr(self.channel, "recovery", None)
        return found

    def _owner(self) -> Any:
        """The QoS to reach Redis through: this one, or the newest live one."""
        recovery = self.recovery
        if recovery is None or attached(self):
            return self
        owner = recovery.current()
        if owner is None:
            raise Detached()
        return owner

    def _errors(self) -> tuple[type[BaseException], ...]:
        errors: tuple[type[BaseException], ...] = self.channel.connection_errors
        return (*errors, Detached)

    def append(self, message: Any, delivery_tag: str) -> None:
        try:
            super().append(message, delivery_tag)
        except self._errors():
            recovery = self.recovery
            if recovery is not None:
                info = message.delivery_info
                recovery.record_failed(
                    delivery_tag, message._raw, info["exchange"], info["routing_key"]
                )
            raise

    def ack(self, delivery_tag: str) -> None:
        recovery = self.recovery
        if recovery is None:
            super().ack(delivery_tag)
            return
        try:
            self._owner()._remove_from_indices(delivery_tag).execute()
        except self._errors():
            recovery.ack_failed(delivery_tag)
        virtual.QoS.ack(self, delivery_tag)

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        recovery = self.recovery
        try:
            reject_in_redis(self._owner(), delivery_tag, requeue)
        except self._errors():
            if recovery is None:
                raise
            recovery.reject_failed(delivery_tag, requeue)
        virtual.QoS.ack(self, delivery_tag)

    def restore_unacked(self, client: Any = None) -> None:
        recovery = self.recovery
        if recovery is None:
            super().restore_unacked(client)
            return
        try:
            if not attached(self):
                raise Detached()
            super().restore_unacked(client)
        except self._errors():
            # Kept in _delivered: the recovery puts them back on reconnecting.
            logger.warning(
                "Could not put back %d unacknowledged messages: the connection "
                "to Redis is gone. The worker puts them back once it is "
                "connected again.",
                len(self._delivered or ()),
            )

    def restore_visible(self, *args: Any, **kwargs: Any) -> None:
        recovery = self.recovery
        if recovery is not None and live(self):
            recovery.settle(self)
        super().restore_visible(*args, **kwargs)


class GuardedRedisChannel(kombu_redis.Channel):
    """kombu's Redis channel, refusing list items it cannot decode.

    An item that is not a kombu envelope moves, as read, to the list
    ``<queue>.dead-letter`` (the newest ``dead_letter_limit`` are kept), with
    one log line; a message rejected without requeue moves there too, as
    RabbitMQ dead-letters it. A message handed back to its queue carries
    ``x-spakky-redeliveries``, the number of times that happened. With a
    ``recovery``, what a broken connection leaves unsettled is settled on
    reconnecting (``redis_unacked``).
    """

    Message = GuardedRedisMessage
    QoS = GuardedQoS
    inflate_policy = InflatePolicy()
    dead_letter_limit = DEFAULT_DEAD_LETTER_LIMIT
    recovery: UnackedRecovery | None = None

    def _brpop_read(self, **options: Any) -> bool:
        # kombu 5.7's Channel._brpop_read, delivering through _deliver_item.
        this: Any = self  # kombu's stubs do not declare the channel's internals
        try:
            try:
                dest__item = self.client.parse_response(
                    self.client.connection, "BRPOP", **options
                )
            except this.connection_errors:
                self.client.connection.disconnect()
                raise
            if dest__item:
                dest, item = dest__item
                dest = bytes_to_str(dest).rsplit(self.sep, 1)[0]
                this._queue_cycle.rotate(dest)
                self._deliver_item(dest, item)
                return True
            raise Empty()
        finally:
            self._in_poll = None
            this._flush_brpop_reauth()

    def _handle_message(self, client: Any, response: Any) -> Any:
        # Pub/sub (fanout: Celery's remote control): kombu's _receive_one
        # parses the data with ``loads`` (deep nesting raises RecursionError
        # out of the event loop) and logs it whole when it is not JSON.
        payload = super()._handle_message(client, response)  # type: ignore[misc]  # not in kombu's stubs
        data = payload.get("data") if isinstance(payload, dict) else None
        kind = bytes_to_str(payload["type"]) if isinstance(payload, dict) else ""
        if not data or not kind.endswith("message"):
            return payload
        try:
            parse_envelope(data if isinstance(data, bytes) else str(data).encode())
        except MessageRefused as refusal:
            logger.error(
                "Refused a broadcast message on channel %s: %s. It was dropped; "
                "its contents are not logged. The worker goes on.",
                escape(bytes_to_str(payload["channel"])),
                refusal,
            )
            return {**payload, "type": "refused"}  # kombu delivers only "message"
        return payload

    def _deliver_item(self, queue: str, item: bytes) -> None:
        try:
            payload = parse_envelope(item)
        except MessageRefused as refusal:
            self.dead_letter(queue, item, str(refusal))
            return
        self.connection._deliver(payload, queue)

    def dead_letter_key(self, queue: str) -> str:
        """The Redis list that keeps the refused messages of ``queue``."""
        return f"{queue}{DEAD_LETTER_SUFFIX}"

    def dead_letter(self, queue: str, item: bytes, reason: str) -> None:
        """Move ``item`` (as read) to ``queue``'s dead-letter list, with one log line."""
        where = "dropped"
        if self.dead_letter_limit:
            key = self.dead_letter_key(queue)
            with self.conn_or_acquire() as client:
                client.pipeline().lpush(key, item).ltrim(
                    key, 0, self.dead_letter_limit - 1
                ).execute()
            where = f"moved to the Redis list {escape(key)!s}"
        logger.error(
            "Refused a message on queue %s: %s. It was %s; its contents are "
            "not logged. The worker goes on.",
            escape(queue),
            reason,
            where,
        )

    def dead_letter_by_tag(self, delivery_tag: str) -> None:
        """Move an unacknowledged message to its queue's dead-letter list."""
        qos: Any = self.qos
        lookup: Any = self._lookup

        def move(pipe: Any) -> None:
            raw = pipe.hget(qos.unacked_key, delivery_tag)
            pipe.multi()
            qos._remove_from_indices(delivery_tag, pipe)
            if raw:
                payload, exchange, routing_key = loads(bytes_to_str(raw))
                queues = list(lookup(exchange, routing_key)) or [routing_key]
                key = self.dead_letter_key(str(queues[0]))
                pipe.lpush(key, dumps(payload))
                pipe.ltrim(key, 0, self.dead_letter_limit - 1)

        with self.conn_or_acquire() as client:
            client.transaction(move, qos.unacked_key)

    def _do_restore_message(
        self,
        payload: Any,
        exchange: str,
        routing_key: str,
        pipe: Any,
        leftmost: bool = False,
    ) -> None:
        headers = payload.get("headers") if isinstance(payload, dict) else None
        if isinstance(headers, dict):
            count = headers.get(REDELIVERIES_HEADER)
            headers[REDELIVERIES_HEADER] = (count if isinstance(count, int) else 0) + 1
        restore: Any = super()._do_restore_message  # type: ignore[misc]  # not in kombu's stubs
        restore(payload, exchange, routing_key, pipe, leftmost)


class GuardedRedisTransport(kombu_redis.Transport, metaclass=ShownAsScheme):
    """kombu's Redis transport with ``GuardedRedisChannel`` channels."""

    Channel = GuardedRedisChannel
    scheme = "redis"


_STOCK_RECEIVE_ONE = (
    "payload = self._handle_message(c, response)",
    "if bytes_to_str(payload['type']).endswith('message'):",
    "message = loads(bytes_to_str(payload['data']))",
)

_STOCK_BRPOP_READ = (
    "dest__item = self.client.parse_response(self.client.connection",
    "self._queue_cycle.rotate(dest)",
    "self.connection._deliver(loads(bytes_to_str(item)), dest)",
    "self._flush_brpop_reauth()",
)


REDIS_SOURCES_SHA256: Final = {
    "Channel._brpop_read": "30d82b79e82ed50f6be94252ff604f061ecd0128dc506006ed0778a817c01d99",
    "Channel._receive_one": "f6ace99e00d9979561a3857ddf6d9f3c1e4fdda3fcb7d921988e29aabeefd0ac",
    "Channel._do_restore_message": (
        "4340c07dbd92da0ac4d2ede9fe15b803b78cf9e714591c6a356b532d7a73350b"
    ),
    "QoS.append": "7796aed4e082b7bc0969a21143acf340e67f9af3a19c55d6ebf32cc6dcfd5b10",
    "QoS.ack": "e70d35b6d09edfbec4d4da4edc0075a175ef873bf780e8a2295b0f91189ec749",
    "QoS.reject": "67661b3ab169307b93d3e0f5ec2dd00ede2450f14761c41225e23e8d6de4cd4d",
    "QoS.restore_unacked": (
        "b30aa41e7deb6679a2349d55cbbbf16b18792453750c4dd2776999c50c68171a"
    ),
    "QoS.restore_visible": (
        "5271428bc1e553bd3011103a6b9e37479f544be8714582af5083d81334f42277"
    ),
    "QoS._remove_from_indices": (
        "3eadc6c61ae1fa90e009222ff2e7eaa136cf956227b5c54cce7b6913fe9b32a2"
    ),
    "QoS.unacked_key": "3a604531dab8b029f8e5e4decf3398b07f7abed265c13658f03f8ea811361c8b",
    "virtual.QoS._flush": "6d93037c1fb22d5f10194fde2bac104deb4cf19ba7c4e27af0dca1402f66704b",
    "virtual.Message.__init__": (
        "5028e95c20a1ebb0dc9bdcc818d7021eef9443a946aa21a8ac7319c1c6458568"
    ),
}
"""SHA-256 (``source_digest``) of each kombu Redis internal this module and
``redis_unacked`` copy (``_brpop_read``), wrap or override, or rely on."""


def _redis_sources() -> dict[str, Callable[..., Any]]:
    channel: Any = kombu_redis.Channel
    qos: Any = kombu_redis.QoS
    base_qos: Any = virtual.QoS
    unacked_key: Any = inspect.getattr_static(qos, "unacked_key")
    return {
        "Channel._brpop_read": channel._brpop_read,
        "Channel._receive_one": channel._receive_one,
        "Channel._do_restore_message": channel._do_restore_message,
        "QoS.append": qos.append,
        "QoS.ack": qos.ack,
        "QoS.reject": qos.reject,
        "QoS.restore_unacked": qos.restore_unacked,
        "QoS.restore_visible": qos.restore_visible,
        "QoS._remove_from_indices": qos._remove_from_indices,
        "QoS.unacked_key": unacked_key.func,  # kombu's cached_property
        "virtual.QoS._flush": base_qos._flush,
        "virtual.Message.__init__": virtual.Message.__init__,
    }


def redis_shape_checks() -> dict[str, bool]:
    """Whether each kombu Redis internal this module overrides still fits."""
    channel: Any = kombu_redis.Channel
    source = source_text(channel._brpop_read)
    receive = source_text(channel._receive_one)
    restore = inspect.signature(channel._do_restore_message)
    return {
        "Channel._brpop_read": all(part in source for part in _STOCK_BRPOP_READ),
        "Channel._receive_one": all(part in receive for part in _STOCK_RECEIVE_ONE),
        "_do_restore_message": list(restore.parameters)[1:4]
        == ["payload", "exchange", "routing_key"],
        "QoS._remove_from_indices": hasattr(kombu_redis.QoS, "_remove_from_indices"),
        "Channel.Message": kombu_redis.Channel.Message is virtual.Message,
        **digests_match(REDIS_SOURCES_SHA256, _redis_sources()),
    }


__all__ = [
    "DEAD_LETTER_SUFFIX",
    "MAX_ENVELOPE_DEPTH",
    "REDIS_SOURCES_SHA256",
    "GuardedQoS",
    "GuardedRedisChannel",
    "GuardedRedisMessage",
    "GuardedRedisTransport",
    "envelope_depth_problem",
    "parse_envelope",
    "redis_shape_checks",
]
