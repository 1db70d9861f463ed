"""What a Redis worker owes after its connection broke, settled on reconnecting.

Real kombu channels on the shared Redis, with ``unacked`` keys of each test's
own; a connection that breaks is a channel whose kombu connection Celery
detached (``Connection.collect``), and Redis going away is a client pointed at
a closed port (redis-py's own ``ConnectionError``). The worker-process test is
``tests/faults/test_redis_unacked.py``.
"""

import logging
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import pytest
import redis
from kombu import Connection, Exchange, Producer, Queue
from kombu.transport import redis as kombu_redis

from spakky.dispatch.celery.consumer import GuardedConsumer, _running
from spakky.dispatch.celery.inflate import InflatePolicy
from spakky.dispatch.celery.redis_guard import GuardedQoS
from spakky.dispatch.celery.redis_unacked import UnackedRecovery, attached, live
from spakky.dispatch.celery.worker_transport import guarded_transport

from .conftest import REDIS_URL


class Setup:
    """A queue and ``unacked`` keys of one test, and a recovery to settle them."""

    def __init__(self, url: str, *, dead_letters: int = 10) -> None:
        run = uuid.uuid4().hex[:8]
        self.url = url
        self.queue = f"unacked-unit-{run}"
        self.options = {
            "unacked_key": f"{self.queue}.unacked",
            "unacked_index_key": f"{self.queue}.unacked_index",
            "unacked_mutex_key": f"{self.queue}.unacked_mutex",
        }
        self.recovery = UnackedRecovery()
        self.transport = guarded_transport(
            url, InflatePolicy(), dead_letters, self.recovery
        )
        self.client = redis.Redis.from_url(url)

    def connection(self) -> Connection:
        return Connection(
            self.url, transport=self.transport, transport_options=self.options
        )

    def publish(self, *jobs: int) -> None:
        with Connection(self.url) as conn:
            producer = Producer(conn)
            for job in jobs:
                producer.publish(
                    {"job": job},
                    exchange=Exchange(self.queue),
                    routing_key=self.queue,
                    declare=[self.target()],
                    serializer="json",
                )

    def target(self) -> Queue:
        return Queue(self.queue, Exchange(self.queue), self.queue)

    def take(self, conn: Connection, count: int) -> list[Any]:
        """``count`` messages delivered through ``conn``, not acknowledged."""
        received: list[Any] = []
        consumer = conn.Consumer(
            self.target(), on_message=received.append, accept=["json"]
        )
        consumer.consume()
        for _ in range(count * 3):
            if len(received) >= count:
                break
            with suppress(TimeoutError):
                conn.drain_events(timeout=0.5)
        assert len(received) == count
        return received

    def unacked(self) -> int:
        return int(self.client.hlen(self.options["unacked_key"]))

    def queued(self) -> list[int]:
        import json

        items = self.client.lrange(self.queue, 0, -1)
        return sorted(json.loads(_body(item))["job"] for item in items)

    def close(self) -> None:
        self.client.delete(
            self.queue, f"{self.queue}.dead-letter", *self.options.values()
        )
        self.client.close()


def _body(item: bytes) -> bytes:
    import base64
    import json

    return base64.b64decode(json.loads(item)["body"])


@pytest.fixture
def setup(redis_url: str) -> Iterator[Setup]:
    """A queue, unacked keys and a recovery of this test (deleted after it)."""
    made = Setup(redis_url)
    try:
        yield made
    finally:
        made.close()


def _detach(conn: Connection) -> None:
    """Celery's handling of a lost connection, then closing it.

    Celery 5.7 first ``collect``s a connection it lost: closing its channel
    fails on the dead socket before the channel is marked closed, and the
    kombu transport is detached (its ``client`` is None). Then it closes the
    connection, which closes that channel again: the state made here.
    """
    assert conn.default_channel is not None
    conn.transport.client = None
    conn.close()


@contextmanager
def _redis_away(qos: Any) -> Iterator[None]:
    """``qos`` reaches Redis through a client of a port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dead = redis.Redis(port=port, socket_connect_timeout=0.5)

    @contextmanager
    def dead_client(client: Any = None) -> Iterator[Any]:
        yield dead

    original = qos.channel.conn_or_acquire
    qos.channel.conn_or_acquire = dead_client
    try:
        yield
    finally:
        qos.channel.conn_or_acquire = original
        dead.close()


def test_lost_connection_holding_messages_expect_put_back_on_reconnect(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    """Messages held when the connection is lost go back when the next one settles.

    kombu's own QoS raises ``AttributeError`` when Celery closes a detached
    connection holding messages (the worker stops); ours keeps them, and the
    next live channel puts them back at the head of the queue.
    """
    setup.publish(1, 2, 3)
    old = setup.connection()
    first, *_ = setup.take(old, 3)
    first.ack()
    old_qos = old.default_channel.qos
    assert setup.unacked() == 2
    with caplog.at_level(logging.WARNING):
        _detach(old)  # kombu's own QoS raises AttributeError here
    assert not attached(old_qos)
    assert "Could not put back 2 unacknowledged messages" in caplog.text
    assert setup.recovery.owes() == 2
    assert setup.unacked() == 2
    assert setup.queued() == []
    with setup.connection() as new, caplog.at_level(logging.WARNING):
        setup.recovery.settle(new.default_channel.qos)
    assert setup.unacked() == 0
    assert setup.queued() == [2, 3]
    assert setup.recovery.owes() == 0
    assert "put back 2 messages" in caplog.text


def test_kombu_qos_detached_close_expect_attribute_error(setup: Setup) -> None:
    """The failure ours contains: kombu's QoS on a detached connection raises."""
    setup.publish(1)
    conn = Connection(
        setup.url, transport=kombu_redis.Transport, transport_options=setup.options
    )
    setup.take(conn, 1)
    with pytest.raises(AttributeError):
        _detach(conn)
    with setup.connection() as fresh:  # leave nothing behind
        fresh.default_channel.qos.restore_visible(start=0, num=10, interval=1)
    setup.client.delete(*setup.options.values())


def test_ack_while_redis_away_expect_completed_on_settle(setup: Setup) -> None:
    """An acknowledgement Redis never got is completed, not redelivered."""
    setup.publish(1)
    with setup.connection() as conn:
        (message,) = setup.take(conn, 1)
        qos = conn.default_channel.qos
        with _redis_away(qos):
            message.ack()  # kombu's QoS raises ConnectionError to Celery
        assert message.acknowledged
        assert setup.unacked() == 1
        assert setup.recovery.owes() == 1
        qos.restore_visible(start=0, num=10, interval=10)  # the periodic sweep
        assert setup.unacked() == 0
        assert setup.recovery.owes() == 0
    assert setup.queued() == []


def test_ack_on_detached_channel_expect_done_through_live_one(setup: Setup) -> None:
    """A task finishing after its connection was replaced is acknowledged at once."""
    setup.publish(1)
    old = setup.connection()
    (message,) = setup.take(old, 1)
    _detach(old)
    with setup.connection() as new:
        assert live(new.default_channel.qos)
        message.ack()
        assert setup.unacked() == 0
        new.default_channel.qos.restore_visible(start=0, num=10, interval=1)
    assert setup.queued() == []
    assert setup.recovery.owes() == 0


def test_ack_detached_and_no_live_channel_expect_owed(setup: Setup) -> None:
    """With no live channel the acknowledgement waits for one."""
    setup.publish(1)
    old = setup.connection()
    (message,) = setup.take(old, 1)
    _detach(old)
    message.ack()
    assert setup.recovery.owes() == 1
    with setup.connection() as new:
        setup.recovery.settle(new.default_channel.qos)
    assert setup.unacked() == 0
    assert setup.queued() == []


@pytest.mark.parametrize(
    ("requeue", "dead_letters", "queued", "parked"),
    [(True, 10, [1], 0), (False, 10, [], 1), (False, 0, [], 0)],
)
def test_reject_while_redis_away_expect_settled_as_asked(
    redis_url: str, requeue: bool, dead_letters: int, queued: list[int], parked: int
) -> None:
    """A rejection Redis never got requeues, dead-letters or drops on settling."""
    setup = Setup(redis_url, dead_letters=dead_letters)
    try:
        setup.publish(1)
        with setup.connection() as conn:
            (message,) = setup.take(conn, 1)
            qos = conn.default_channel.qos
            with _redis_away(qos):
                message.reject(requeue=requeue)
            assert setup.recovery.owes() == 1
            setup.recovery.settle(qos)
        assert setup.unacked() == 0
        assert setup.queued() == queued
        assert setup.client.llen(f"{setup.queue}.dead-letter") == parked
    finally:
        setup.close()


def test_reject_without_recovery_expect_kombu_error(setup: Setup) -> None:
    """Without a recovery (not our consumer) a failed rejection raises as in kombu."""
    setup.publish(1)
    plain = guarded_transport(setup.url, InflatePolicy(), 10)
    with Connection(
        setup.url, transport=plain, transport_options=setup.options
    ) as conn:
        (message,) = setup.take(conn, 1)
        qos = conn.default_channel.qos
        with _redis_away(qos), pytest.raises(redis.ConnectionError):
            message.reject(requeue=True)
        message.ack()
    assert setup.unacked() == 0


def test_append_fails_without_recovery_expect_raised_nothing_recorded(
    setup: Setup,
) -> None:
    """Without a recovery a failed ``unacked`` record raises as in kombu."""
    setup.publish(1)
    plain = guarded_transport(setup.url, InflatePolicy(), 10)
    with Connection(
        setup.url, transport=plain, transport_options=setup.options
    ) as conn:
        (message,) = setup.take(conn, 1)
        qos = conn.default_channel.qos
        with _redis_away(qos), pytest.raises(redis.ConnectionError):
            qos.append(message, "another-tag")
        message.ack()
    assert setup.unacked() == 0
    assert setup.recovery.owes() == 0


def test_record_failed_expect_put_back_from_copy_or_hash(setup: Setup) -> None:
    """A popped message whose ``unacked`` record failed goes back exactly once."""
    setup.publish(1, 2)
    with setup.connection() as conn:
        recorded, lost = setup.take(conn, 2)
        qos = conn.default_channel.qos
        with _redis_away(qos), pytest.raises(redis.ConnectionError):
            qos.append(lost, "tag-never-recorded")
        for message in (recorded, lost):
            info = message.delivery_info
            setup.recovery.record_failed(
                message.delivery_tag,
                message._raw,
                info["exchange"],
                info["routing_key"],
            )
        qos._delivered.clear()
        setup.recovery.settle(qos)
    assert setup.unacked() == 0
    assert setup.queued() == [1, 2, 2]  # 2 from its record and from the copy
    assert setup.recovery.owes() == 0


def test_busy_message_expect_left_to_its_own_ack(setup: Setup) -> None:
    """A message whose task still runs here (late acks) is not put back."""
    setup.publish(1, 2)
    old = setup.connection()
    running, _dropped = setup.take(old, 2)
    setup.recovery.busy = lambda message: message is running
    _detach(old)
    with setup.connection() as new:
        setup.recovery.settle(new.default_channel.qos)
        assert setup.queued() == [2]
        assert setup.recovery.owes() == 1
        running.ack()
        assert setup.recovery.owes() == 0
    assert setup.unacked() == 0


def test_normal_close_expect_kombu_restore(setup: Setup) -> None:
    """A channel closed while Redis is there restores what it held, as kombu does."""
    setup.publish(1, 2)
    with setup.connection() as conn:
        setup.take(conn, 2)
    assert setup.queued() == [1, 2]
    assert setup.unacked() == 0
    assert setup.recovery.owes() == 0


def test_restore_unacked_without_recovery_expect_kombu_path(setup: Setup) -> None:
    """A guarded channel without a recovery restores on close as kombu does."""
    setup.publish(1)
    plain = guarded_transport(setup.url, InflatePolicy(), 10)
    with Connection(setup.url, transport=plain, transport_options=setup.options) as c:
        setup.take(c, 1)
        assert c.default_channel.qos.recovery is None
    assert setup.queued() == [1]


def test_guarded_consumer_connect_expect_settled_through_new_channel(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``GuardedConsumer.connect`` settles what the last connection left owed."""
    setup.publish(1)
    old = setup.connection()
    setup.take(old, 1)
    _detach(old)
    consumer = GuardedConsumer.__new__(GuardedConsumer)
    consumer._unacked = setup.recovery
    fresh = setup.connection()
    monkeypatch.setattr("celery.worker.consumer.Consumer.connect", lambda self: fresh)
    try:
        assert consumer.connect() is fresh
        assert setup.queued() == [1]
        assert setup.recovery.owes() == 0
    finally:
        fresh.close()


def test_guarded_consumer_recovery_expect_one_per_consumer() -> None:
    """Each consumer makes one recovery, which asks Celery what still runs."""
    consumer = GuardedConsumer.__new__(GuardedConsumer)
    recovery = consumer.unacked_recovery()
    assert consumer.unacked_recovery() is recovery
    assert recovery.busy is _running


def test_running_expect_message_of_an_active_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``_running`` finds a message among Celery's active requests."""

    class Request:
        def __init__(self, message: object) -> None:
            self.message = message

    mine, other = object(), object()
    requests = [Request(mine)]
    monkeypatch.setattr("celery.worker.state.active_requests", requests)
    assert _running(mine)  # type: ignore[arg-type]
    assert not _running(other)  # type: ignore[arg-type]


def test_guarded_qos_is_the_channels_qos() -> None:
    """The guarded Redis channel builds ``GuardedQoS``."""
    transport: Any = guarded_transport(REDIS_URL, InflatePolicy(), 10)
    assert transport.Channel.QoS is GuardedQoS


def test_settle_bad_unacked_record_expect_logged_dropped_rest_settled(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    """A record that cannot be restored is dropped with a line naming no contents."""
    setup.publish(1, 2)
    old = setup.connection()
    first, _ = setup.take(old, 2)
    setup.client.hset(setup.options["unacked_key"], first.delivery_tag, b"\xffgarbage")
    _detach(old)
    with setup.connection() as new, caplog.at_level(logging.WARNING):
        setup.recovery.settle(new.default_channel.qos)
    assert setup.queued() == [2]
    assert setup.recovery.owes() == 0
    assert "Could not settle a message after reconnecting to Redis" in caplog.text
    assert "garbage" not in caplog.text
    assert "put back 1 messages" in caplog.text


def test_settle_while_redis_away_expect_raised_and_still_owed(setup: Setup) -> None:
    """A settlement that cannot reach Redis raises and stays owed for the next."""
    setup.publish(1)
    with setup.connection() as conn:
        (message,) = setup.take(conn, 1)
        qos = conn.default_channel.qos
        with _redis_away(qos):
            message.ack()
            with pytest.raises(redis.ConnectionError):
                setup.recovery.settle(qos)
        assert setup.recovery.owes() == 1
        setup.recovery.settle(qos)
    assert setup.recovery.owes() == 0
    assert setup.unacked() == 0
