"""The Redis transport of ``TaskPublisher``: one Redis client per channel.

It overrides kombu's private ``Channel._create_client``, so it is checked
against the installed kombu (falling back to kombu's own transport) and what a
publish through it leaves in Redis is compared with kombu's own transport's.
"""

import inspect
import json
import linecache
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from celery import Celery
from celery.contrib.testing.worker import start_worker
from kombu import Connection, Exchange, Queue
from kombu.transport import redis as kombu_redis

from spakky.dispatch.celery import CeleryTaskSender, redis_transport
from spakky.dispatch.celery.fast_publish import source_text
from spakky.dispatch.celery.producer import TaskPublisher, _publish_transport
from spakky.dispatch.celery.redis_transport import (
    ClientReusingChannel,
    ClientReusingTransport,
    reusing_transport,
    reusing_transport_problem,
)
from spakky.dispatch.core.adapter import TaskMessage


@pytest.fixture
def probe() -> Iterator[None]:
    """A fresh probe and warning for the test, and again after it."""
    reusing_transport_problem.cache_clear()
    redis_transport._warn.cache_clear()
    yield
    reusing_transport_problem.cache_clear()
    redis_transport._warn.cache_clear()


def _app(broker: str, queue: str = "q") -> Celery:
    app = Celery(f"rt-{queue}", broker=broker, set_as_current=False)
    app.conf.task_default_queue = queue
    return app


@pytest.mark.parametrize(
    ("broker", "transport", "chosen"),
    [
        ("redis://127.0.0.1:6379/9", None, True),
        ("redis://a:6379/0;redis://b:6379/0", None, True),
        ("rediss://127.0.0.1:6380/0", None, False),
        ("amqp://guest:guest@127.0.0.1:5672//", None, False),
        ("redis://127.0.0.1:6379/9", "redis", False),
        ("redis://a:6379/0;amqp://b//", None, False),
    ],
)
def test_publisher_connection_expect_reusing_transport_only_for_plain_redis(
    broker: str, transport: str | None, chosen: bool
) -> None:
    """TLS, other transports and a user's own transport keep kombu's."""
    app = _app(broker)
    app.conf.broker_transport = transport
    assert (_publish_transport(app) is ClientReusingTransport) is chosen
    assert (TaskPublisher(app).transport is ClientReusingTransport) is chosen


def test_reusing_transport_probe_installed_kombu_expect_no_problem() -> None:
    """The installed kombu is the one the override was checked on.

    Fails after a kombu update that touched the overridden methods: re-read
    their diff, run the comparison below and update ``CHANNEL_SHA256``.
    """
    assert reusing_transport_problem() is None
    assert reusing_transport() is ClientReusingTransport


@pytest.mark.usefixtures("probe")
@pytest.mark.parametrize(
    ("attribute", "value", "problem"),
    [
        ("KOMBU_SERIES", frozenset({(4, 6)}), "is not a series the override"),
        (
            "CHANNEL_SHA256",
            {**redis_transport.CHANNEL_SHA256, "conn_or_acquire": "0" * 64},
            "changed: Channel.conn_or_acquire",
        ),
    ],
)
def test_reusing_transport_probe_other_kombu_expect_problem(
    monkeypatch: pytest.MonkeyPatch, attribute: str, value: object, problem: str
) -> None:
    """Another kombu series, or other channel code, fails the probe."""
    monkeypatch.setattr(redis_transport, attribute, value)
    assert problem in str(reusing_transport_problem())


@pytest.mark.usefixtures("probe")
def test_reusing_transport_probe_other_signature_expect_problem(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A ``_create_client`` with other parameters fails the probe."""

    def _create_client(self: Any, asynchronous: bool = False, pool: Any = None) -> Any:
        return None

    monkeypatch.setattr(kombu_redis.Channel, "_create_client", _create_client)
    problem = str(reusing_transport_problem())
    assert problem == (
        "changed: Channel._create_client(asynchronous=False), Channel._create_client"
    )


@pytest.mark.usefixtures("probe")
def test_reusing_transport_probe_unreadable_source_expect_problem(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Source that cannot be read counts as a changed kombu."""

    def unreadable(obj: object) -> str:
        raise OSError("no source")

    monkeypatch.setattr(inspect, "getsource", unreadable)
    monkeypatch.setattr(linecache, "getlines", lambda *_: [])
    source_text.cache_clear()
    assert reusing_transport_problem() == "kombu changed (OSError)"


def test_channel_sync_client_expect_built_once_and_rebuilt_for_new_pool(
    redis_url: str,
) -> None:
    """The synchronous client is reused; a new pool gets a new client."""
    app = _app(redis_url)
    with app.connection_for_write(transport=ClientReusingTransport) as connection:
        channel = connection.default_channel
        assert isinstance(channel, ClientReusingChannel)
        first = channel._create_client()
        assert channel._create_client() is first
        assert channel._create_client(asynchronous=True) is not first
        channel._pool = None  # what kombu does when it drops a pool
        second = channel._create_client()
        assert second is not first
        assert second.connection_pool is channel.pool


def _redis_state(client: redis.Redis, name: str) -> dict[str, Any]:
    """Every key naming ``name`` and its value, with ``name`` and random tags replaced."""
    state: dict[str, Any] = {}
    for raw in client.keys(f"*{name}*"):
        key = raw.decode()
        kind = client.type(key).decode()
        if kind == "list":
            items = [json.loads(item) for item in client.lrange(key, 0, -1)]
            for item in items:
                assert item["properties"].pop("delivery_tag")  # kombu's uuid
            value: Any = items
        elif kind == "set":
            value = sorted(member.decode() for member in client.smembers(key))
        else:
            value = (kind, client.dump(key))
        state[key.replace(name, "<q>")] = json.loads(
            json.dumps(value).replace(name, "<q>")
        )
    return state


def _publish_all(url: str, name: str, transport: type[Any]) -> None:
    """Three publishes: plain, with a priority, and to a topic binding."""
    exchange = Exchange(name)
    queue = Queue(name, exchange, name, max_priority=9)
    topic = Exchange(f"{name}-topic", type="topic")
    topic_queue = Queue(f"{name}-t", topic, "a.#")
    with Connection(url, transport=transport) as connection:
        producer = connection.Producer()
        assert type(producer.channel) is transport.Channel
        common: dict[str, Any] = {
            "serializer": "json",
            "headers": {"task": "t", "id": "1"},
            "correlation_id": "1",
            "reply_to": "r",
        }
        producer.publish(
            {"args": [1]},
            exchange=exchange,
            routing_key=name,
            declare=[queue],
            **common,
        )
        producer.publish(
            {"args": [2]},
            exchange=exchange,
            routing_key=name,
            declare=[queue],
            priority=7,
            **common,
        )
        producer.publish(
            {"args": [3]},
            exchange=topic,
            routing_key="a.b",
            declare=[topic_queue],
            **common,
        )


def test_reusing_transport_publish_expect_same_redis_state_as_kombu_transport(
    redis_url: str,
) -> None:
    """What a publish leaves in Redis (lists, priority lists, bindings) is kombu's."""
    client = redis.Redis.from_url(redis_url)
    states = []
    try:
        for transport in (kombu_redis.Transport, ClientReusingTransport):
            name = f"rt-cmp-{uuid.uuid4().hex[:8]}"
            try:
                _publish_all(redis_url, name, transport)
                states.append(_redis_state(client, name))
            finally:
                keys = client.keys(f"*{name}*")
                if keys:
                    client.delete(*keys)
    finally:
        client.close()
    stock, ours = states
    assert ours == stock
    lists = [key for key, value in stock.items() if isinstance(value, list) and value]
    assert len(lists) >= 3  # the queue, its priority list and the topic queue


def test_sender_on_redis_expect_reusing_channel_and_stock_worker_runs_tasks(
    redis_url: str,
) -> None:
    """Messages published through the reusing channel are ordinary Celery messages."""
    queue = f"rt-{uuid.uuid4().hex[:8]}"
    app = _app(redis_url, queue)
    app.conf.result_backend = "cache+memory://"

    @app.task(name="rt.add", shared=False)
    def add(a: int, b: int) -> int:
        return a + b

    sender = CeleryTaskSender(app)
    try:
        with start_worker(
            app, pool="solo", perform_ping_check=False, shutdown_timeout=10
        ):
            results = [
                sender.send(TaskMessage(task_name="rt.add", args=(n, 1)))
                for n in range(5)
            ]
            assert [r.get(timeout=20) for r in results] == [1, 2, 3, 4, 5]  # type: ignore[call-arg]
        producer = sender._publisher._producer()
        assert isinstance(producer.channel, ClientReusingChannel)
    finally:
        redis.Redis.from_url(redis_url).delete(queue)


@pytest.mark.usefixtures("probe")
def test_reusing_transport_probe_fails_expect_warning_and_kombu_transport_works(
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With a kombu the override does not fit, kombu's own transport publishes."""
    monkeypatch.setattr(redis_transport, "KOMBU_SERIES", frozenset())
    queue = f"rt-{uuid.uuid4().hex[:8]}"
    app = _app(redis_url, queue)
    app.conf.result_backend = "cache+memory://"

    @app.task(name="rt.mul", shared=False)
    def mul(a: int, b: int) -> int:
        return a * b

    with caplog.at_level(logging.WARNING, logger=redis_transport.__name__):
        sender = CeleryTaskSender(app)
        CeleryTaskSender(app)
    assert sender._publisher.transport is None
    assert caplog.text.count("Redis client reuse") == 1
    try:
        with start_worker(
            app, pool="solo", perform_ping_check=False, shutdown_timeout=10
        ):
            result = sender.send(TaskMessage(task_name="rt.mul", args=(3, 4)))
            assert result.get(timeout=20) == 12  # type: ignore[call-arg]
        producer = sender._publisher._producer()
        assert type(producer.channel) is kombu_redis.Channel
    finally:
        redis.Redis.from_url(redis_url).delete(queue)
