"""Poison messages, unit by unit: bounded inflate, envelopes, frames, redelivery, logs.

The Redis channel tests run kombu against the shared Redis and compare every
good message with kombu's own transport; the worker-process tests live in
``tests/faults/test_poison.py``.
"""

import bz2
import contextlib
import json
import linecache
import logging
import lzma
import sys
import uuid
import zlib
from struct import pack
from typing import Any, cast

import amqp
import pytest
import redis
from amqp import spec
from amqp.method_framing import frame_handler
from amqp.serialization import dumps as amqp_dumps
from kombu import Connection, Exchange, Producer, Queue
from kombu.transport import pyamqp
from kombu.transport import redis as kombu_redis

from spakky.dispatch.celery import redis_guard, worker_transport
from spakky.dispatch.celery.consumer import (
    GuardedConsumer,
    _requeue_counted,
    redeliveries,
)
from spakky.dispatch.celery.fast_publish import source_text
from spakky.dispatch.celery.inflate import InflatePolicy, MessageRefused, content_type
from spakky.dispatch.celery.logs import (
    FIELD_LOGGERS,
    MessageFieldLogFilter,
    describe_decode_error,
    escape,
    install_rejection_log_filter,
)
from spakky.dispatch.celery.redis_guard import GuardedRedisTransport, parse_envelope
from spakky.dispatch.celery.worker_keys import REDELIVERIES_HEADER, REFUSED_HEADER
from spakky.dispatch.celery.worker_transport import (
    GuardedAmqpChannel,
    GuardedAmqpMessage,
    GuardedAmqpTransport,
    guarded_frame_handler,
    guarded_transport,
    kombu_shape_problem,
    replace_headers,
)

GZIP = InflatePolicy.for_compression("gzip", max_bytes=1000)


# --- inflate ------------------------------------------------------------------


def test_inflate_without_configured_compression_expect_refused_before_inflating() -> (
    None
):
    """An application that compresses nothing accepts no compressed message."""
    with pytest.raises(MessageRefused, match="configures no compression"):
        InflatePolicy().inflate(zlib.compress(b"x"), "application/x-gzip")


@pytest.mark.parametrize(
    ("method", "body", "expected"),
    [
        ("gzip", zlib.compress(b"a" * 1000), b"a" * 1000),
        ("zlib", zlib.compress(b"{}"), b"{}"),
        ("application/x-gzip", zlib.compress(b"ok"), b"ok"),
    ],
)
def test_inflate_configured_method_within_cap_expect_body(
    method: str, body: bytes, expected: bytes
) -> None:
    """Names and content types of the configured method inflate up to the cap."""
    assert GZIP.inflate(body, method) == expected


@pytest.mark.parametrize(
    ("policy", "method", "body", "problem"),
    [
        (GZIP, "gzip", zlib.compress(b"a" * 1001), "inflates to more than 1000"),
        (GZIP, "gzip", zlib.compress(b"a" * 100)[:-3], "truncated"),
        (GZIP, "gzip", b"not zlib", "cannot be inflated (error)"),
        (GZIP, "bzip2", bz2.compress(b"x"), "'bzip2', which this application"),
        (GZIP, 7, b"", "compressed with int"),
        (GZIP, "x" * 80, b"", "..."),
        (
            InflatePolicy.for_compression("bzip2", 10),
            "bzip2",
            bz2.compress(b"b" * 11),
            "more than 10",
        ),
        (
            InflatePolicy.for_compression("xz", 10),
            "lzma",
            lzma.compress(b"c" * 11),
            "more than 10",
        ),
    ],
)
def test_inflate_bad_or_oversized_body_expect_refused_naming_reason(
    policy: InflatePolicy, method: object, body: bytes, problem: str
) -> None:
    """Bombs, truncated or foreign bodies and other methods are refused."""
    with pytest.raises(
        MessageRefused, match=problem.replace("(", r"\(").replace(")", r"\)")
    ):
        policy.inflate(body, method)


def test_inflate_streaming_methods_within_cap_expect_body() -> None:
    """bzip2 and lzma inflate with the same bound."""
    assert (
        InflatePolicy.for_compression("bzip2").inflate(bz2.compress(b"q"), "bzip")
        == b"q"
    )
    assert (
        InflatePolicy.for_compression("lzma").inflate(lzma.compress(b"r"), "xz") == b"r"
    )
    assert content_type("gzip") == "application/x-gzip"


# --- Redis envelopes -------------------------------------------------------------


def _envelope(**changes: object) -> dict[str, Any]:
    envelope: dict[str, Any] = {
        "body": "e30=",
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": {"task": "t", "id": "1"},
        "properties": {
            "delivery_info": {"exchange": "", "routing_key": "q"},
            "delivery_tag": "tag-1",
            "body_encoding": "base64",
        },
    }
    envelope.update(changes)
    return envelope


@pytest.mark.parametrize(
    ("item", "problem"),
    [
        (b"\x00\xff{}", "not valid UTF-8 at byte 1"),
        (b"{nope", "not JSON at character 1"),
        (b'{"a": ' * 100_000 + b"1" + b"}" * 100_000, "nests too deep to parse"),
        (b"[1, 2]", "a JSON list, not an object"),
        (b'{"body": "e30="}', "lacks kombu's properties"),
        (json.dumps(_envelope(headers=[1])).encode(), "its 'headers' is a list"),
        (
            json.dumps(
                _envelope(headers={"d": json.loads('{"a":' * 40 + "1" + "}" * 40)})
            ).encode(),
            "deeper than 32",
        ),
    ],
)
def test_parse_envelope_bad_item_expect_refused_by_kind_and_position(
    item: bytes, problem: str
) -> None:
    """Each way a list item can fail is named without quoting it."""
    with pytest.raises(MessageRefused, match=problem) as raised:
        parse_envelope(item)
    assert "\\x" not in str(raised.value)


def test_parse_envelope_good_item_expect_what_kombu_parses() -> None:
    """A good envelope parses exactly as kombu's own ``loads`` does."""
    item = json.dumps(_envelope()).encode()
    assert parse_envelope(item) == kombu_redis.loads(item.decode())


def _consume(url: str, queue: str, transport: Any, **options: Any) -> list[Any]:
    """Messages kombu delivers from ``queue`` through ``transport`` (not acked)."""
    received: list[Any] = []
    with Connection(url, transport=transport, transport_options=options) as conn:
        with conn.Consumer(
            Queue(queue, Exchange(queue), queue),
            on_message=received.append,
            on_decode_error=lambda message, error: received.append(message),
            accept=["json"],
        ):
            for _ in range(5):
                try:
                    conn.drain_events(timeout=0.3)
                except TimeoutError:
                    break
        for message in received:
            message.ack()
    return received


def _publish(url: str, queue: str, body: object, **kwargs: Any) -> None:
    with Connection(url) as conn:
        Producer(conn).publish(
            body,
            exchange=Exchange(queue),
            routing_key=queue,
            declare=[Queue(queue, Exchange(queue), queue)],
            serializer="json",
            **kwargs,
        )


def test_guarded_redis_good_message_expect_same_as_kombu_transport(
    redis_url: str,
) -> None:
    """A good message reaches the consumer as kombu's own transport delivers it."""
    seen = []
    for transport in (kombu_redis.Transport, GuardedRedisTransport):
        queue = f"poison-unit-{uuid.uuid4().hex[:8]}"
        _publish(redis_url, queue, {"job": 1}, headers={"h": "v"})
        (message,) = _consume(redis_url, queue, transport)
        seen.append((message.decode(), message.headers, message.content_type))
    assert seen[0] == seen[1] == ({"job": 1}, {"h": "v"}, "application/json")


def test_guarded_redis_poison_item_expect_dead_lettered_and_next_delivered(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An item that is not an envelope moves to ``<queue>.dead-letter``; the next runs."""
    queue = f"poison-unit-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(redis_url)
    _publish(redis_url, queue, {"first": True})  # declares the binding
    client.rpush(queue, b"\xffcard 4111")  # BRPOP takes from the right: first
    try:
        with caplog.at_level(logging.ERROR):
            received = _consume(redis_url, queue, GuardedRedisTransport)
        assert [m.decode() for m in received] == [{"first": True}]
        assert client.lrange(f"{queue}.dead-letter", 0, -1) == [b"\xffcard 4111"]
        assert "not valid UTF-8 at byte 0" in caplog.text
        assert "4111" not in caplog.text
    finally:
        client.delete(queue, f"{queue}.dead-letter")
        client.close()


def test_guarded_redis_reject_and_requeue_expect_dead_letter_and_counted(
    redis_url: str,
) -> None:
    """Reject without requeue dead-letters; a requeued message counts its return."""
    queue = f"poison-unit-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(redis_url)
    try:
        _publish(redis_url, queue, {"n": 1})
        with Connection(redis_url, transport=GuardedRedisTransport) as conn:
            simple = conn.SimpleQueue(queue)
            message = simple.get(timeout=2)
            message.requeue()
            again = simple.get(timeout=2)
            assert again.headers[REDELIVERIES_HEADER] == 1
            again.reject()
            simple.close()
        (parked,) = client.lrange(f"{queue}.dead-letter", 0, -1)
        assert json.loads(parked)["headers"][REDELIVERIES_HEADER] == 1
    finally:
        client.delete(queue, f"{queue}.dead-letter")
        client.close()


def test_guarded_redis_bad_base64_and_dead_letters_off_expect_errors_and_drop(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A body that is not base64 becomes a message error; limit 0 drops items."""
    transport = guarded_transport(redis_url, InflatePolicy(), 0)
    queue = f"poison-unit-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(redis_url)
    _publish(redis_url, queue, {"x": 1})
    bad = _envelope(body="%%%abc")
    bad["properties"]["delivery_info"]["routing_key"] = queue
    bad["properties"]["delivery_info"]["exchange"] = queue
    client.lpush(queue, json.dumps(bad).encode(), b"[]")
    try:
        with caplog.at_level(logging.ERROR):
            received = _consume(redis_url, queue, transport)
        assert len(received) == 2
        refused = [m for m in received if m.errors]
        assert [str(m.errors[0][1]) for m in refused] == [
            "its body is not valid base64"
        ]
        assert client.exists(f"{queue}.dead-letter") == 0
        assert "It was dropped" in caplog.text
    finally:
        client.delete(queue)
        client.close()


# --- RabbitMQ frames ------------------------------------------------------------


def _frames(
    headers: dict[str, object], body: bytes = b"{}"
) -> list[tuple[int, int, bytes]]:
    method = pack(">HH", *spec.Basic.Deliver) + amqp_dumps(
        "sLbss", ["ctag", 7, False, "", "q"]
    )
    message = amqp.Message(
        body,
        content_type="application/json",
        application_headers=headers,
        delivery_mode=2,
    )
    header = pack(">HHQ", 60, 0, len(body)) + message._serialize_properties()
    return [(1, 1, method), (2, 1, header), (3, 1, body)]


def _feed(handler: Any, frames: list[tuple[int, int, bytes]]) -> list[Any]:
    got: list[Any] = []
    on_frame = handler(
        cast(Any, type("C", (), {"bytes_recv": 0})()), lambda *a: got.append(a)
    )
    for frame in frames:
        on_frame(frame)
    return got


def test_guarded_frame_handler_good_message_expect_same_as_py_amqp() -> None:
    """A good message is parsed exactly as py-amqp's own frame handler parses it."""
    frames = _frames({"task": "t", "id": "1"})
    (stock,), (ours,) = (
        _feed(frame_handler, frames),
        _feed(guarded_frame_handler, frames),
    )
    assert stock[:3] == ours[:3]
    assert stock[3].properties == ours[3].properties
    assert stock[3].body == ours[3].body


def test_guarded_frame_handler_deep_headers_expect_refusal_marker_and_body() -> None:
    """Headers too deep to parse are replaced by a marker; the rest is kept."""
    deep: dict[str, object] = {}
    for _ in range(3000):
        deep = {"a": deep}
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)
    try:
        frames = _frames({"deep": deep})
    finally:
        sys.setrecursionlimit(limit)
    with pytest.raises(RecursionError):
        _feed(frame_handler, frames)
    ((_, method, _, message),) = _feed(guarded_frame_handler, frames)
    assert method == spec.Basic.Deliver
    assert message.properties["application_headers"] == {
        REFUSED_HEADER: "its headers cannot be parsed (RecursionError)"
    }
    assert message.properties["content_type"] == "application/json"
    assert message.properties["delivery_mode"] == 2
    assert message.body == b"{}"


def test_guarded_frame_handler_error_elsewhere_expect_raised() -> None:
    """Errors outside a content header are py-amqp's to report."""
    on_frame = guarded_frame_handler(
        cast(Any, type("C", (), {"bytes_recv": 0})()), print
    )
    with pytest.raises(Exception, match="expecting type"):
        on_frame((3, 1, b"body before method"))


@pytest.mark.parametrize(
    "header",
    [
        pack(">HHQH", 60, 0, 2, 1 << 15) + b"\x00",  # no header table
        pack(">HHQH", 60, 0, 2, 1 << 13) + pack(">I", 99),  # table cut short
        b"\x00",
    ],
)
def test_replace_headers_without_table_expect_none(header: bytes) -> None:
    """Frames whose table cannot be located are left alone."""
    assert replace_headers(header, "r") is None


def _delivered(message: amqp.Message) -> amqp.Message:
    message.delivery_info = {"delivery_tag": 1, "redelivered": False}
    return message


def test_guarded_amqp_message_refused_or_compressed_expect_errors() -> None:
    """The marker and an unconfigured compression become message errors."""
    channel = cast(Any, type("Ch", (), {"inflate_policy": InflatePolicy()})())
    marked = GuardedAmqpMessage(
        _delivered(
            amqp.Message(b"{}", application_headers={REFUSED_HEADER: "bad\nline"})
        ),
        channel=channel,
    )
    assert str(marked.errors[0][1]) == "bad\\nline"
    compressed = GuardedAmqpMessage(
        _delivered(
            amqp.Message(
                zlib.compress(b"{}"), application_headers={"compression": "gzip"}
            )
        ),
        channel=channel,
    )
    assert "configures no compression" in str(compressed.errors[0][1])
    assert compressed.raw_body == zlib.compress(b"{}")


# --- choosing the transport ----------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("redis://h:6379/0", GuardedRedisTransport),
        ("redis://a//;redis://b//", GuardedRedisTransport),
        ("amqp://g:g@h//", GuardedAmqpTransport),
        ("pyamqp://h//", GuardedAmqpTransport),
        ("rediss://h:6380/0", None),
        ("sentinel://h:26379", None),
        ("redis://a//;amqp://b//", None),
    ],
)
def test_guarded_transport_by_scheme_expect_ours_or_kombus(url: str, base: Any) -> None:
    """Plain Redis and AMQP get ours, configured with the policy; others kombu's."""
    chosen = guarded_transport(url, GZIP, 5)
    if base is None:
        assert chosen is None
        return
    assert issubclass(chosen, base)
    channel = (
        chosen.Channel if base is GuardedRedisTransport else chosen.Connection.Channel
    )
    assert channel.inflate_policy == GZIP
    assert channel.dead_letter_limit == 5


def test_kombu_shape_changed_expect_stock_transport_with_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """If kombu no longer looks as expected, the worker keeps kombu's transport."""
    assert kombu_shape_problem() is None
    kombu_shape_problem.cache_clear()

    def changed(self: Any, **options: Any) -> bool:
        return False

    monkeypatch.setattr(kombu_redis.Channel, "_brpop_read", changed)
    try:
        assert "Channel._brpop_read" in str(kombu_shape_problem())
        with caplog.at_level(logging.WARNING):
            assert guarded_transport("redis://h//", InflatePolicy()) is None
        assert "uses kombu's own transport" in caplog.text
    finally:
        kombu_shape_problem.cache_clear()


def test_kombu_shape_unreadable_expect_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    """Source that cannot be read counts as a changed kombu."""
    kombu_shape_problem.cache_clear()

    def unreadable(obj: object) -> str:
        raise OSError("no source")

    monkeypatch.setattr(worker_transport.inspect, "getsource", unreadable)
    monkeypatch.setattr(linecache, "getlines", lambda *_: [])
    source_text.cache_clear()
    try:
        assert kombu_shape_problem() == "kombu or py-amqp changed (OSError)"
    finally:
        kombu_shape_problem.cache_clear()


@pytest.mark.parametrize(
    ("digests", "name", "url"),
    [
        (redis_guard.REDIS_SOURCES_SHA256, "Channel._brpop_read", "redis://h//"),
        (redis_guard.REDIS_SOURCES_SHA256, "QoS.reject", "redis://h//"),
        (redis_guard.REDIS_SOURCES_SHA256, "virtual.Message.__init__", "redis://h//"),
        (
            worker_transport.AMQP_SOURCES_SHA256,
            "amqp.method_framing.frame_handler",
            "amqp://g:g@h//",
        ),
        (
            worker_transport.SOURCES_SHA256,
            "kombu.message.Message.__init__",
            "amqp://g:g@h//",
        ),
    ],
)
def test_copied_source_changed_expect_stock_transport_naming_it(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    digests: dict[str, str],
    name: str,
    url: str,
) -> None:
    """A private kombu / py-amqp function whose source is not the one the guard
    was compared against (its digest differs) turns the guard off, naming it."""
    assert kombu_shape_problem() is None
    kombu_shape_problem.cache_clear()
    monkeypatch.setitem(digests, name, "0" * 64)
    try:
        assert kombu_shape_problem() == f"changed: {name} source"
        with caplog.at_level(logging.WARNING):
            assert guarded_transport(url, InflatePolicy()) is None
        assert "uses kombu's own transport" in caplog.text
    finally:
        kombu_shape_problem.cache_clear()


def test_kombu_series_not_checked_expect_problem(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A kombu series the guards were not compared against turns both off."""
    kombu_shape_problem.cache_clear()
    monkeypatch.setattr(worker_transport, "KOMBU_SERIES", frozenset({(4, 0)}))
    try:
        problem = str(kombu_shape_problem("amqp"))
        assert problem.startswith("kombu 5.7")
        assert "not a series" in problem
    finally:
        kombu_shape_problem.cache_clear()


def test_py_amqp_series_not_checked_expect_amqp_problem_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A py-amqp series the RabbitMQ guard was not compared against turns off
    that guard only."""
    kombu_shape_problem.cache_clear()
    monkeypatch.setattr(worker_transport, "AMQP_SERIES", frozenset({(4, 0)}))
    try:
        assert kombu_shape_problem("amqp") == "changed: py-amqp series"
        assert kombu_shape_problem("redis") is None
    finally:
        kombu_shape_problem.cache_clear()


# --- redelivery --------------------------------------------------------------------


class _Msg:
    def __init__(self, headers: object, redelivered: bool, channel: object) -> None:
        self.headers = headers
        self.delivery_info = {
            "redelivered": redelivered,
            "exchange": "",
            "routing_key": "q",
        }
        self.channel = channel
        self.properties = {"application_headers": {"a": 1}, "delivery_mode": 2}
        self.body = b"{}"
        self.acked = False

    def ack(self) -> None:
        self.acked = True


class _AmqpChannel:
    republishes_redeliveries = True

    def __init__(self) -> None:
        self.published: list[tuple[Any, str, str]] = []

    def basic_publish(self, message: Any, exchange: str, routing_key: str) -> None:
        self.published.append((message, exchange, routing_key))


@pytest.mark.parametrize(
    ("headers", "redelivered", "amqp_channel", "expected"),
    [
        ({}, False, False, None),
        ({REDELIVERIES_HEADER: 2}, True, False, 2),
        ({REDELIVERIES_HEADER: "x"}, False, False, 0),
        ({}, False, True, 0),
        ({}, True, True, 1),
        ({REDELIVERIES_HEADER: 3}, True, True, 4),
        ({"x-delivery-count": 9}, True, True, 9),
        (None, True, True, 1),
    ],
)
def test_redeliveries_expect_count_from_headers_and_flag(
    headers: object, redelivered: bool, amqp_channel: bool, expected: int | None
) -> None:
    """Redis counts in the headers; RabbitMQ adds the flag and quorum counts."""
    channel = _AmqpChannel() if amqp_channel else object()
    assert redeliveries(cast(Any, _Msg(headers, redelivered, channel))) == expected


def test_requeue_counted_expect_copy_with_count_then_ack() -> None:
    """The copy keeps body and properties and carries the count; the original is acked."""
    channel = _AmqpChannel()
    message = _Msg({}, True, channel)
    _requeue_counted(cast(Any, message), 3)
    ((copy, exchange, routing_key),) = channel.published
    assert copy.body == b"{}"
    assert copy.properties["application_headers"] == {"a": 1, REDELIVERIES_HEADER: 3}
    assert (exchange, routing_key) == ("", "q")
    assert message.acked


# --- logs ----------------------------------------------------------------------


def test_escape_control_characters_expect_one_line() -> None:
    """Newlines, escapes and Unicode line separators are written as escapes."""
    assert escape("a\nb\r\x1b[31m\u2028c") == "a\\nb\\r\\x1b[31m\\u2028c"
    assert escape(5) == "5"


def test_describe_decode_error_expect_kind_and_position_only() -> None:
    """No byte of the body appears; the kind and where it is do."""
    try:
        b'["\xff card 4111"]'.decode()
    except UnicodeDecodeError as error:
        unicode_error = error
    try:
        json.loads("{card 4111")
    except json.JSONDecodeError as error:
        json_error = error
    wrapped = ValueError(unicode_error)
    assert describe_decode_error(wrapped) == "body is not valid utf-8 at byte 2"
    assert describe_decode_error(json_error).startswith("body is not JSON (")
    assert describe_decode_error(MessageRefused("x\ny")) == "x\\ny"
    assert (
        describe_decode_error(KeyError("4111")) == "body cannot be decoded (KeyError)"
    )
    assert describe_decode_error("a\nb") == "'a\\nb'"


def test_message_field_log_filter_expect_args_escaped() -> None:
    """Tuple and mapping arguments are escaped; others pass as they are."""
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "%s %d", ("a\nb", 3), None
    )
    assert MessageFieldLogFilter().filter(record)
    assert record.getMessage() == "a\\nb 3"
    mapped = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "%(id)s %(n)s", ({"id": "i\n", "n": 1},), None
    )
    assert MessageFieldLogFilter().filter(mapped)
    assert mapped.getMessage() == "i\\n 1"
    clean = logging.LogRecord("x", logging.INFO, __file__, 1, "%s %s", ("a b", 3), None)
    clean_args = clean.args
    assert MessageFieldLogFilter().filter(clean)
    assert clean.args is clean_args  # nothing to escape: left as it is
    clean_mapped = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "%(id)s", ({"id": "i", "n": 1},), None
    )
    assert MessageFieldLogFilter().filter(clean_mapped)
    assert clean_mapped.getMessage() == "i"
    other = logging.LogRecord("x", logging.INFO, __file__, 1, "plain", None, None)
    assert MessageFieldLogFilter().filter(other)
    assert other.args is None
    install_rejection_log_filter()
    install_rejection_log_filter()
    for name in FIELD_LOGGERS:
        filters = logging.getLogger(name).filters
        assert sum(isinstance(f, MessageFieldLogFilter) for f in filters) == 1


def test_guarded_consumer_on_decode_error_expect_contained_not_acked() -> None:
    """Celery's decode-error path rejects (dead-letters) instead of acking."""
    contained: list[str] = []
    consumer = GuardedConsumer.__new__(GuardedConsumer)
    consumer._contain = lambda message, problem: contained.append(problem)  # type: ignore[method-assign]
    consumer.on_decode_error(
        cast(Any, object()), ValueError(UnicodeDecodeError("utf-8", b"\xff", 0, 1, "x"))
    )
    assert contained == ["body is not valid utf-8 at byte 0"]


def test_guarded_amqp_channel_expect_guarded_message_class() -> None:
    """The RabbitMQ channel builds guarded messages and republishes redeliveries."""
    assert GuardedAmqpChannel.Message is GuardedAmqpMessage
    assert issubclass(GuardedAmqpMessage, pyamqp.Message)
    assert GuardedAmqpChannel.republishes_redeliveries is True


# --- remaining branches of the guarded transports -----------------------------


def test_envelope_depth_lists_expect_counted_like_objects() -> None:
    """Lists nest as deep as objects do; a scalar counts as one level."""
    assert redis_guard.envelope_depth_problem([["x", 1]], limit=3) is False
    assert redis_guard.envelope_depth_problem([[["x"]]], limit=3) is True


def test_policy_message_headers_not_a_mapping_expect_body_untouched(
    redis_url: str,
) -> None:
    """A message without a header mapping is kombu's, unchanged."""
    with Connection(redis_url, transport=GuardedRedisTransport) as conn:
        message = redis_guard.GuardedRedisMessage(
            _envelope(headers=None), channel=conn.default_channel
        )
    assert message.body == b"{}"
    assert not message.errors


def test_guarded_frame_handler_method_frame_error_expect_raised() -> None:
    """An error while handling a method frame is not a header to replace."""

    def fails(*args: object) -> None:
        raise ValueError("callback failed")

    on_frame = guarded_frame_handler(
        cast(Any, type("C", (), {"bytes_recv": 0})()), fails
    )
    with pytest.raises(ValueError, match="callback failed"):
        on_frame((1, 1, pack(">HH", 10, 10) + b"\x00" * 8))


def test_guarded_frame_handler_header_without_table_expect_raised() -> None:
    """A content header that fails without a header table is py-amqp's error."""
    on_frame = guarded_frame_handler(
        cast(Any, type("C", (), {"bytes_recv": 0})()), lambda *args: None
    )
    on_frame((1, 1, pack(">HH", 60, 60) + b"\x00" * 20))  # Basic.Deliver
    with pytest.raises(UnicodeDecodeError):
        on_frame((2, 1, pack(">HHQH", 60, 0, 2, 1 << 15) + b"\x02\xff\xfe"))


def test_guarded_amqp_connection_expect_guarded_frame_handler() -> None:
    """Our py-amqp connection parses frames through the guard (no connect)."""
    connection = worker_transport.GuardedAmqpConnection(host="127.0.0.1:1")
    assert connection.frame_handler_cls is guarded_frame_handler


def test_guarded_redis_brpop_connection_error_expect_disconnect_and_raise(
    redis_url: str,
) -> None:
    """A connection error while reading BRPOP disconnects and reaches kombu."""
    with Connection(redis_url, transport=GuardedRedisTransport) as conn:
        channel: Any = conn.default_channel
        disconnected: list[bool] = []

        class Broken:
            connection = type(
                "Conn", (), {"disconnect": lambda self: disconnected.append(True)}
            )()

            def parse_response(self, *args: object, **kwargs: object) -> None:
                raise redis.ConnectionError("gone")

        real = channel.client
        channel.client = Broken()
        try:
            with pytest.raises(redis.ConnectionError):
                channel._brpop_read()
        finally:
            channel.client = real
        assert disconnected == [True]


def test_guarded_redis_dead_letter_unknown_tag_and_odd_payload_expect_no_op(
    redis_url: str,
) -> None:
    """Dead-lettering a tag Redis no longer holds moves nothing; a payload
    without a header mapping gets no count (kombu refuses to restore it)."""
    queue = f"poison-unit-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(redis_url)
    _publish(redis_url, queue, {"n": 1})  # declares the binding
    client.delete(queue)
    try:
        with Connection(redis_url, transport=GuardedRedisTransport) as conn:
            channel: Any = conn.default_channel
            channel.dead_letter_by_tag("no-such-tag")
            payload: dict[str, Any] = {"headers": None, "properties": {}}
            with channel.conn_or_acquire() as redis_client:
                pipe = redis_client.pipeline()
                channel._do_restore_message(payload, queue, queue, pipe)
                pipe.execute()
        assert payload["headers"] is None  # no count added (kombu logs it)
        assert client.exists(f"{queue}.dead-letter") == 0
    finally:
        client.delete(queue)
        client.close()


def test_guarded_transport_in_log_lines_expect_url_scheme() -> None:
    """kombu's "Connected to" line shows our transports as their scheme."""
    redis_kind = guarded_transport("redis://:pw@h:6379/0", InflatePolicy())
    amqp_kind = guarded_transport("amqp://u:pw@h:5672//", InflatePolicy())
    redis_conn = Connection("redis://:pw@h:6379/0", transport=redis_kind)
    amqp_conn = Connection("amqp://u:pw@h:5672//", transport=amqp_kind)
    assert redis_conn.as_uri() == "redis://:**@h:6379/0"
    assert amqp_conn.as_uri() == "amqp://u:**@h:5672//"
    assert "GuardedRedisTransport" in repr(redis_kind)


def _broadcast(
    redis_url: str, transport: Any, items: list[bytes], caplog: pytest.LogCaptureFixture
) -> list[Any]:
    """Deliver ``items`` and then a good message through a fanout exchange."""
    run = uuid.uuid4().hex[:8]
    exchange = Exchange(f"fanout-unit-{run}", type="fanout")
    received: list[Any] = []
    client = redis.Redis.from_url(redis_url)
    try:
        with (
            Connection(redis_url, transport=transport) as conn,
            conn.Consumer(
                Queue(f"fanout-unit-{run}", exchange, auto_delete=True),
                on_message=received.append,
                accept=["json"],
            ),
        ):
            with contextlib.suppress(TimeoutError):
                conn.drain_events(timeout=0.3)  # subscribes
            for item in items:
                client.publish(f"/9.{exchange.name}", item)
            Producer(conn).publish({"ok": 1}, exchange=exchange, serializer="json")
            with caplog.at_level(logging.WARNING):
                for _ in range(10):
                    if received:
                        break
                    with contextlib.suppress(TimeoutError):
                        conn.drain_events(timeout=0.3)
    finally:
        client.close()
    return received


def test_guarded_redis_broadcast_poison_expect_refused_and_next_delivered(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Pub/sub (Celery's remote control): bad data is refused, one line each."""
    items = [b"\xff card 4111", nested_json_bytes(100_000), b'{"body": "e30="}']
    received = _broadcast(redis_url, GuardedRedisTransport, items, caplog)
    assert [m.decode() for m in received] == [{"ok": 1}]
    assert caplog.text.count("Refused a broadcast message on channel") == 3
    assert "nests too deep to parse" in caplog.text
    assert "4111" not in caplog.text


def test_kombu_redis_broadcast_poison_expect_contents_logged_or_raised(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """What ours prevents: kombu logs the data, and deep nesting raises."""
    _broadcast(redis_url, kombu_redis.Transport, [b"\xff card 4111"], caplog)
    assert "4111" in caplog.text
    with pytest.raises(RecursionError):
        _broadcast(
            redis_url, kombu_redis.Transport, [nested_json_bytes(100_000)], caplog
        )


def nested_json_bytes(depth: int) -> bytes:
    """JSON nested ``depth`` levels deep, built as text."""
    return ('{"a": ' * depth + "{}" + "}" * depth).encode()


@pytest.mark.parametrize("depth", range(24, 36))
def test_parse_envelope_bracket_shortcut_expect_same_verdict_as_walk(
    depth: int,
) -> None:
    """Skipping the depth walk for items with few brackets never changes a verdict."""
    nested_value: object = 1
    for _ in range(depth):
        nested_value = [nested_value]
    payload = _envelope(headers={"d": nested_value})
    item = json.dumps(payload).encode()
    too_deep = redis_guard.envelope_depth_problem(json.loads(item))
    try:
        redis_guard.parse_envelope(item)
    except MessageRefused:
        refused = True
    else:
        refused = False
    assert refused is too_deep
    assert redis_guard._may_nest_too_deep(item) or not too_deep


def test_guarded_amqp_transport_expect_no_redis_loaded() -> None:
    """A RabbitMQ worker's guard does not load kombu's Redis transport or redis-py."""
    import subprocess

    code = (
        "import sys\n"
        "from spakky.dispatch.celery.consumer import GuardedConsumer\n"
        "from spakky.dispatch.celery.inflate import InflatePolicy\n"
        "from spakky.dispatch.celery.redis_unacked import UnackedRecovery\n"
        "from spakky.dispatch.celery.worker_transport import guarded_transport\n"
        "kind = guarded_transport('amqp://g:g@h//', InflatePolicy(), 10, "
        "UnackedRecovery())\n"
        "print(kind, 'redis' in sys.modules, 'kombu.transport.redis' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["amqp", "False", "False"]
