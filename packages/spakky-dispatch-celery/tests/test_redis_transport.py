"""The Redis transport of ``TaskPublisher``: one Redis client per channel."""

import os
import socket
import uuid

import pytest
import redis
from celery import Celery
from celery.contrib.testing.worker import start_worker

from spakky.dispatch.celery import CeleryTaskSender
from spakky.dispatch.celery.producer import TaskPublisher
from spakky.dispatch.celery.redis_transport import (
    ClientReusingChannel,
    ClientReusingTransport,
)
from spakky.dispatch.core.adapter import TaskMessage

REDIS_URL = "redis://127.0.0.1:6379/9"


@pytest.fixture
def redis_url() -> str:
    """The shared Redis (skipped without it, failing under CI=true)."""
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("Redis is not reachable on 127.0.0.1:6379; CI must start it")
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    return REDIS_URL


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
    options = TaskPublisher(app)._connection_options()
    assert (options == {"transport": ClientReusingTransport}) is chosen


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
