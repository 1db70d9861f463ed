"""Fixtures for the taskiq adapter's own tests."""

import asyncio
import os
import socket
import uuid
from collections.abc import Callable, Iterator

import aio_pika
import pytest
import redis

from spakky.dispatch.taskiq import BrokerLoop, TaskiqConfig

from .taskiq_fakes import RecordingBroker


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No ``SPAKKY_TASKIQ__*`` variable leaks in from the developer's shell."""
    for name in list(os.environ):
        if name.upper().startswith("SPAKKY_TASKIQ__"):
            monkeypatch.delenv(name)
    return monkeypatch


type ConfigFactory = Callable[..., TaskiqConfig]


@pytest.fixture
def make_config(clean_env: pytest.MonkeyPatch) -> ConfigFactory:
    """``make_config(broker_url="memory://", ...)``: a config from these variables."""

    def build(**settings: str) -> TaskiqConfig:
        for name, value in settings.items():
            clean_env.setenv(f"SPAKKY_TASKIQ__{name.upper()}", value)
        return TaskiqConfig()

    return build


@pytest.fixture
def loops() -> Iterator[Callable[..., BrokerLoop]]:
    """``loops(broker, **settings)``: broker loops stopped after the test."""
    made: list[BrokerLoop] = []
    saved = dict(os.environ)

    def build(broker: object | None = None, **settings: str) -> BrokerLoop:
        for name, value in settings.items():
            os.environ[f"SPAKKY_TASKIQ__{name.upper()}"] = value
        try:
            config = TaskiqConfig()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        made.append(BrokerLoop(broker or RecordingBroker(), config))  # type: ignore[arg-type]
        return made[-1]

    yield build
    for loop in made:
        loop.stop()


REDIS_URL = "redis://127.0.0.1:6379/9"
"""The shared Redis of the broker tests (a database of their own)."""

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672//"
"""The shared RabbitMQ of the broker tests."""


def _require(port: int, what: str) -> None:
    """Skip unless ``what`` listens on loopback ``port``; under ``CI=true`` fail."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        message = f"{what} is not reachable on 127.0.0.1:{port}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}; CI must start it")
        pytest.skip(message)


def _queue_name() -> str:
    return f"spakky-test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def redis_queue() -> Iterator[str]:
    """A queue name of this test on ``REDIS_URL``; its key and dead letters are
    deleted after it."""
    _require(6379, "Redis")
    name = _queue_name()
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    client.delete(name, f"{name}.dead_letter")
    client.close()


@pytest.fixture
def amqp_queue() -> Iterator[str]:
    """A RabbitMQ queue name of this test; it and its dead letters are deleted
    after it."""
    _require(5672, "RabbitMQ")
    name = _queue_name()
    yield name

    async def drop() -> None:
        connection = await aio_pika.connect(AMQP_URL)
        async with connection:
            channel = await connection.channel()
            for each in (name, f"{name}.dead_letter"):
                await channel.queue_delete(each)

    asyncio.run(drop())
