"""Worker-side kombu transports that no message can stop (overrides kombu internals).

kombu decodes what it reads off the broker before any consumer callback runs,
so an error there stops the worker with "Unrecoverable error" and, on
RabbitMQ, the message comes back to stop the next worker too:

- Redis: ``Channel._brpop_read`` parses each list item with ``loads`` (not
  UTF-8, not JSON, a JSON list, nesting too deep all raise), and
  ``Message.__init__`` base64-decodes the body;
- RabbitMQ: py-amqp parses a content header recursively (a header table
  nested a few thousand levels deep raises ``RecursionError``);
- both: ``kombu.message.Message.__init__`` inflates a body named compressed
  by its ``compression`` header in one unbounded call (a 261 KB zlib bomb
  becomes 256 MB).

This module is the one place that reaches into kombu and py-amqp for that.
``guarded_transport`` returns, for a plain ``redis://`` or ``amqp://`` broker,
a transport whose channels contain each failure: the message is refused with
one log line naming no contents (Redis: the raw item moves to the queue's
dead-letter list; RabbitMQ: a header that cannot be parsed is replaced by a
refusal marker, and ``GuardedConsumer`` rejects the message, which the broker
dead-letters if the queue has a dead-letter exchange). It checks first that
kombu still has the shape this code was written against (``kombu_shape_problem``)
and returns None (kombu's own transport, with a warning) when it does not.
"""

import binascii
import inspect
import logging
from collections.abc import Callable
from functools import cache
from queue import Empty
from struct import error as StructError
from struct import pack, unpack_from
from typing import Any

from amqp import method_framing
from kombu.message import Message as KombuMessage
from kombu.transport import pyamqp
from kombu.transport import redis as kombu_redis
from kombu.transport.virtual import base as virtual
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import dumps, loads

from spakky.dispatch.celery.consumer import (
    DEFAULT_DEAD_LETTER_LIMIT,
    REDELIVERIES_HEADER,
    REFUSED_HEADER,
)
from spakky.dispatch.celery.inflate import InflatePolicy, MessageRefused
from spakky.dispatch.celery.logs import escape
from spakky.dispatch.celery.redis_unacked import GuardedQoS, UnackedRecovery

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


class _PolicyMessage(KombuMessage):
    """kombu's message, inflating only what the channel's ``InflatePolicy`` allows."""

    def __init__(self, body: Any = None, headers: Any = None, **kwargs: Any) -> None:
        refusal: MessageRefused | None = None
        if isinstance(headers, dict):
            method = headers.get("compression")
            if REFUSED_HEADER in headers:
                refusal = MessageRefused(escape(headers[REFUSED_HEADER]))
            elif method:
                policy: InflatePolicy = getattr(
                    kwargs.get("channel"), "inflate_policy", InflatePolicy()
                )
                headers = {k: v for k, v in headers.items() if k != "compression"}
                raw = body.encode() if isinstance(body, str) else body
                self.raw_body = raw  # as received, for a copy sent back to the queue
                try:
                    body = policy.inflate(raw or b"", method)
                except MessageRefused as error:
                    refusal, body = error, b""
        if refusal is not None:
            self.errors = [(MessageRefused, refusal, None)]
        super().__init__(body=body, headers=headers, **kwargs)


class GuardedAmqpMessage(pyamqp.Message, _PolicyMessage):
    """A RabbitMQ message of a guarded channel."""


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


# --- RabbitMQ: a content header py-amqp cannot parse -------------------------

_HEADERS_FLAG = 1 << 13
_BEFORE_HEADERS = (1 << 15, 1 << 14)  # content_type, content_encoding


def _refusal_table(reason: str) -> bytes:
    key, value = REFUSED_HEADER.encode(), reason.encode()
    table = pack(">B", len(key)) + key + b"S" + pack(">I", len(value)) + value
    return pack(">I", len(table)) + table


def replace_headers(header: bytes, reason: str) -> bytes | None:
    """A content header frame with its header table replaced by a refusal marker.

    Follows AMQP 0-9-1's content header layout (class, weight, body size,
    property flags, then the properties in order, the header table third and
    length-prefixed), so the table is skipped without being parsed. None when
    the frame has no header table or is cut short.
    """
    try:
        (flags,) = unpack_from(">H", header, 12)
        if flags & 1 or not flags & _HEADERS_FLAG:
            return None
        offset = 14
        for flag in _BEFORE_HEADERS:
            if flags & flag:
                offset += 1 + header[offset]
        (length,) = unpack_from(">I", header, offset)
    except (IndexError, StructError):  # the frame is cut short
        return None
    end = offset + 4 + length
    if end > len(header):
        return None
    return bytes(header[:offset]) + _refusal_table(reason) + bytes(header[end:])


def guarded_frame_handler(connection: Any, callback: Any) -> Callable[[Any], Any]:
    """py-amqp's frame handler, refusing a message whose headers cannot be parsed.

    py-amqp keeps a message's state between its frames; when parsing a
    content header raises, that state still waits for the header, so the
    same frame is fed again with the header table replaced by a refusal
    marker. The body frames then follow as usual, and ``GuardedConsumer``
    rejects the message.
    """
    on_frame = method_framing.frame_handler(connection, callback)

    def guarded(frame: Any) -> Any:
        try:
            return on_frame(frame)
        except (RecursionError, ValueError, KeyError, IndexError, TypeError) as error:
            frame_type, channel, buf = frame
            if frame_type != 2:
                raise
            reason = f"its headers cannot be parsed ({type(error).__name__})"
            replaced = replace_headers(bytes(buf), reason)
            if replaced is None:
                raise
            return on_frame((frame_type, channel, replaced))

    return guarded


class GuardedAmqpChannel(pyamqp.Channel):
    """A RabbitMQ channel building ``GuardedAmqpMessage`` messages."""

    Message = GuardedAmqpMessage
    inflate_policy = InflatePolicy()
    republishes_redeliveries = True


class GuardedAmqpConnection(pyamqp.Connection):
    """A py-amqp connection parsing frames with ``guarded_frame_handler``."""

    Channel = GuardedAmqpChannel

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["frame_handler"] = guarded_frame_handler
        super().__init__(*args, **kwargs)


class _ShownAsScheme(type):
    """Shows a transport class as its URL scheme.

    kombu writes a connection passed a transport class as ``<class ...>://``
    in "Connected to" and "Cannot connect to" lines; ours read ``redis://``.
    """

    scheme: str

    def __str__(cls) -> str:
        return cls.scheme


class GuardedAmqpTransport(pyamqp.Transport, metaclass=_ShownAsScheme):
    """kombu's py-amqp transport with guarded connections."""

    Connection = GuardedAmqpConnection
    scheme = "amqp"


# --- Redis: list items that are not kombu envelopes ---------------------------


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


class GuardedRedisTransport(kombu_redis.Transport, metaclass=_ShownAsScheme):
    """kombu's Redis transport with ``GuardedRedisChannel`` channels."""

    Channel = GuardedRedisChannel
    scheme = "redis"


# --- choosing and checking ----------------------------------------------------

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


@cache
def kombu_shape_problem() -> str | None:
    """Why this module's overrides do not fit the installed kombu, or None."""
    try:
        channel: Any = kombu_redis.Channel
        source = inspect.getsource(channel._brpop_read)
        receive = inspect.getsource(channel._receive_one)
        frames = inspect.signature(method_framing.frame_handler)
        restore = inspect.signature(channel._do_restore_message)
        connection = inspect.signature(pyamqp.Connection.__init__)
    except (AttributeError, TypeError, OSError) as error:
        return f"kombu or py-amqp changed ({type(error).__name__})"
    checks = {
        "Channel._brpop_read": all(part in source for part in _STOCK_BRPOP_READ),
        "Channel._receive_one": all(part in receive for part in _STOCK_RECEIVE_ONE),
        "frame_handler": list(frames.parameters)[:2] == ["connection", "callback"],
        "_do_restore_message": list(restore.parameters)[1:4]
        == ["payload", "exchange", "routing_key"],
        "Connection(frame_handler=)": "frame_handler" in connection.parameters,
        "QoS._remove_from_indices": hasattr(kombu_redis.QoS, "_remove_from_indices"),
        "Channel.Message": kombu_redis.Channel.Message is virtual.Message,
        "pyamqp.Channel.Message": pyamqp.Channel.Message is pyamqp.Message,
    }
    changed = [name for name, ok in checks.items() if not ok]
    return f"changed: {', '.join(changed)}" if changed else None


_KINDS: dict[str, type[Any]] = {
    "redis": GuardedRedisTransport,
    "amqp": GuardedAmqpTransport,
    "pyamqp": GuardedAmqpTransport,
}


@cache
def _configured(
    kind: Any,
    policy: InflatePolicy,
    dead_letters: int,
    recovery: UnackedRecovery | None,
) -> type[Any]:
    base_channel = kind.Channel if kind is GuardedRedisTransport else GuardedAmqpChannel
    settings: dict[str, Any] = {
        "inflate_policy": policy,
        "dead_letter_limit": dead_letters,
    }
    if kind is GuardedRedisTransport:
        settings["recovery"] = recovery
    channel = type(base_channel.__name__, (base_channel,), settings)
    if kind is GuardedRedisTransport:
        return type(kind.__name__, (kind,), {"Channel": channel})
    connection = type(
        GuardedAmqpConnection.__name__, (GuardedAmqpConnection,), {"Channel": channel}
    )
    return type(kind.__name__, (kind,), {"Connection": connection})


def guarded_transport(
    url: str,
    policy: InflatePolicy,
    dead_letter_limit: int = DEFAULT_DEAD_LETTER_LIMIT,
    recovery: UnackedRecovery | None = None,
) -> type[Any] | None:
    """The guarded transport class for a worker consuming from ``url``, or None.

    None for brokers this module does not cover (TLS, Sentinel, SQS, a list
    of different schemes) and, with a warning, when kombu changed shape.
    ``recovery`` (Redis) settles what a broken connection left unsettled.
    """
    schemes = {u.strip().partition("://")[0] for u in url.split(";") if u.strip()}
    kinds: set[Any] = {_KINDS.get(scheme) for scheme in schemes}
    if len(kinds) != 1 or None in kinds:
        return None
    problem = kombu_shape_problem()
    if problem is not None:
        logger.warning(
            "spakky-celery: this kombu differs from the one its poison-message "
            "guard was written for (%s); the worker uses kombu's own transport, "
            "so a malformed message may stop it. Pin kombu to 5.7.x or update "
            "spakky-celery.",
            problem,
        )
        return None
    kind: Any = next(iter(kinds))  # one transport class: None was excluded above
    return _configured(kind, policy, dead_letter_limit, recovery)


__all__ = [
    "DEAD_LETTER_SUFFIX",
    "REDELIVERIES_HEADER",
    "REFUSED_HEADER",
    "GuardedAmqpTransport",
    "GuardedRedisTransport",
    "guarded_transport",
]
