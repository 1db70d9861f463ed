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

This module and ``redis_guard`` (the Redis half, imported only for Redis
brokers: it loads redis-py) are the one place that reaches into kombu and
py-amqp for that. ``guarded_transport`` returns, for a plain ``redis://`` or ``amqp://`` broker,
a transport whose channels contain each failure: the message is refused with
one log line naming no contents (Redis: the raw item moves to the queue's
dead-letter list; RabbitMQ: a header that cannot be parsed is replaced by a
refusal marker, and ``GuardedConsumer`` rejects the message, which the broker
dead-letters if the queue has a dead-letter exchange). It checks first that
kombu still has the shape this code was written against (``kombu_shape_problem``)
and returns None (kombu's own transport, with a warning) when it does not.
"""

import inspect
import logging
from collections.abc import Callable
from functools import cache
from struct import error as StructError
from struct import pack, unpack_from
from typing import Any, Final

import amqp
import kombu
from amqp import method_framing
from kombu.message import Message as KombuMessage
from kombu.transport import pyamqp

from spakky.dispatch.celery.inflate import InflatePolicy, MessageRefused
from spakky.dispatch.celery.logs import escape
from spakky.dispatch.celery.redis_unacked import UnackedRecovery
from spakky.dispatch.celery.worker_keys import (
    DEFAULT_DEAD_LETTER_LIMIT,
    REDELIVERIES_HEADER,
    REFUSED_HEADER,
)
from spakky.dispatch.core.adapter import changed_checks, source_digest

logger = logging.getLogger(__name__)

KOMBU_SERIES: Final = frozenset({(5, 7)})
"""kombu ``(major, minor)`` versions both guards were compared against."""

AMQP_SERIES: Final = frozenset({(5, 4)})
"""py-amqp ``(major, minor)`` versions the RabbitMQ guard was compared against."""

SOURCES_SHA256: Final = {
    "kombu.message.Message.__init__": (
        "6b91da6a4e38fcffc12da4b2653803c6f7d2b9336ee5e4ee1f01fae6e4ece071"
    ),
}
"""SHA-256 (``source_digest``) of what both guards wrap: the message constructor
``_PolicyMessage`` hands the inflated body to."""

AMQP_SOURCES_SHA256: Final = {
    "amqp.method_framing.frame_handler": (
        "7f7a17ac5eb1194ffa4a665376698ad220e3dd0285c357aba04dd7e2963bf7f0"
    ),
}
"""SHA-256 of the py-amqp code ``guarded_frame_handler`` wraps and re-feeds."""


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


class ShownAsScheme(type):
    """Shows a transport class as its URL scheme.

    kombu writes a connection passed a transport class as ``<class ...>://``
    in "Connected to" and "Cannot connect to" lines; ours read ``redis://``.
    """

    scheme: str

    def __str__(cls) -> str:
        return cls.scheme


class GuardedAmqpTransport(pyamqp.Transport, metaclass=ShownAsScheme):
    """kombu's py-amqp transport with guarded connections."""

    Connection = GuardedAmqpConnection
    scheme = "amqp"


# --- choosing and checking ----------------------------------------------------


def digests_match(
    expected: dict[str, str], found: dict[str, Callable[..., Any]]
) -> dict[str, bool]:
    """Whether each function of ``found`` has the source digest ``expected`` names."""
    return {
        f"{name} source": source_digest(found[name]) == digest
        for name, digest in expected.items()
    }


def _common_shape_checks() -> dict[str, bool]:
    return digests_match(
        SOURCES_SHA256, {"kombu.message.Message.__init__": KombuMessage.__init__}
    )


def _amqp_shape_checks() -> dict[str, bool]:
    frames = inspect.signature(method_framing.frame_handler)
    connection = inspect.signature(pyamqp.Connection.__init__)
    installed: Any = amqp  # py-amqp's stubs do not declare its version
    return {
        "py-amqp series": tuple(installed.VERSION)[:2] in AMQP_SERIES,
        "frame_handler": list(frames.parameters)[:2] == ["connection", "callback"],
        "Connection(frame_handler=)": "frame_handler" in connection.parameters,
        "pyamqp.Channel.Message": pyamqp.Channel.Message is pyamqp.Message,
        **digests_match(
            AMQP_SOURCES_SHA256,
            {"amqp.method_framing.frame_handler": method_framing.frame_handler},
        ),
    }


def _redis_shape_checks() -> dict[str, bool]:
    from spakky.dispatch.celery.redis_guard import redis_shape_checks

    return redis_shape_checks()


_CHECKS: dict[str, Callable[[], dict[str, bool]]] = {
    "amqp": _amqp_shape_checks,
    "redis": _redis_shape_checks,
}


@cache
def kombu_shape_problem(kind: str | None = None) -> str | None:
    """Why the overrides for ``kind`` (``redis``, ``amqp``; None: both) do not
    fit the installed kombu and py-amqp, or None.

    Checks the kombu (and, for RabbitMQ, py-amqp) series, the SHA-256 of the
    source of every private function copied or wrapped (whitespace
    collapsed), and the names and signatures used. After updating kombu or
    py-amqp, re-read the diffs of those functions, run the poison tests and
    update the digests.
    """
    installed: Any = kombu  # kombu's stubs do not declare its version
    if tuple(installed.VERSION)[:2] not in KOMBU_SERIES:
        return f"kombu {installed.__version__} is not a series the guard was checked on"
    checks: dict[str, bool] = {}
    try:
        checks |= _common_shape_checks()
        for name, check in _CHECKS.items():
            if kind in (None, name):
                checks |= check()
    except (AttributeError, TypeError, OSError) as error:
        return f"kombu or py-amqp changed ({type(error).__name__})"
    return changed_checks(checks)


_KINDS = {"redis": "redis", "amqp": "amqp", "pyamqp": "amqp"}
"""URL scheme -> the guarded transport for it."""


def _transport_of(kind: str) -> type[Any]:
    if kind == "amqp":
        return GuardedAmqpTransport
    # Imported here: kombu's Redis transport loads redis-py, which a
    # RabbitMQ worker does not need.
    from spakky.dispatch.celery.redis_guard import GuardedRedisTransport

    return GuardedRedisTransport


@cache
def _configured(
    kind: str,
    policy: InflatePolicy,
    dead_letters: int,
    recovery: UnackedRecovery | None,
) -> type[Any]:
    transport: Any = _transport_of(kind)
    settings: dict[str, Any] = {
        "inflate_policy": policy,
        "dead_letter_limit": dead_letters,
    }
    if kind == "redis":
        settings["recovery"] = recovery
        channel = type(transport.Channel.__name__, (transport.Channel,), settings)
        return type(transport.__name__, (transport,), {"Channel": channel})
    channel = type(GuardedAmqpChannel.__name__, (GuardedAmqpChannel,), settings)
    connection = type(
        GuardedAmqpConnection.__name__, (GuardedAmqpConnection,), {"Channel": channel}
    )
    return type(transport.__name__, (transport,), {"Connection": connection})


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
    kinds = {_KINDS.get(scheme) for scheme in schemes}
    if len(kinds) != 1 or None in kinds:
        return None
    kind = str(next(iter(kinds)))  # one kind: None was excluded above
    problem = kombu_shape_problem(kind)
    if problem is not None:
        logger.warning(
            "spakky-celery: this kombu differs from the one its poison-message "
            "guard was written for (%s); the worker uses kombu's own transport, "
            "so a malformed message may stop it. Pin kombu to 5.7.x (and "
            "py-amqp to 5.4.x) or update spakky-celery.",
            problem,
        )
        return None
    return _configured(kind, policy, dead_letter_limit, recovery)


__all__ = [
    "AMQP_SERIES",
    "AMQP_SOURCES_SHA256",
    "KOMBU_SERIES",
    "REDELIVERIES_HEADER",
    "REFUSED_HEADER",
    "SOURCES_SHA256",
    "GuardedAmqpTransport",
    "ShownAsScheme",
    "digests_match",
    "guarded_transport",
    "kombu_shape_problem",
]
