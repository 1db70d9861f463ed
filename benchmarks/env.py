"""Brokers and environment of a benchmark run."""

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

REDIS_URL = "redis://127.0.0.1:6379/15"
"""Broker and counter DB of the benchmarks (nothing else uses DB 15 here)."""
RABBIT_URL = "amqp://guest:guest@127.0.0.1:5672//"
BROKERS = {"memory": "memory://", "redis": REDIS_URL, "rabbitmq": RABBIT_URL}


def reachable(url: str) -> bool:
    """Whether the broker of ``url`` accepts TCP connections (memory: always)."""
    if url.startswith("memory"):
        return True
    port = 6379 if url.startswith("redis") else 5672
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def unique(prefix: str) -> str:
    """A queue or key name no other run uses."""
    return f"spakky-bench-{prefix}-{uuid.uuid4().hex[:8]}"


@contextmanager
def environment(**values: str | None) -> Iterator[None]:
    """Set (or, for None, remove) environment variables until the block ends."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def broker_env(url: str, queue: str) -> dict[str, str | None]:
    """``SPAKKY_CELERY__*`` for a benchmark app on ``url`` with its own queue."""
    return {
        "SPAKKY_CELERY__BROKER_URL": url,
        "SPAKKY_CELERY__DEFAULT_QUEUE": queue,
        "SPAKKY_CELERY__RESULT_BACKEND": None,
    }


def delete_queue(celery: object, queue: str) -> None:
    """Drop the benchmark's queue and its messages from the broker."""
    from celery import Celery

    assert isinstance(celery, Celery)
    try:
        with celery.connection_for_write() as connection:
            channel: Any = connection.default_channel
            channel.queue_delete(queue)
    except Exception as error:  # the run's numbers matter more than cleanup
        print(f"  (could not delete queue {queue}: {error})")


TASKIQ_REDIS_URL = "redis://127.0.0.1:6379/14"
"""Broker and counter DB of the taskiq benchmarks (nothing else uses DB 14 here)."""
TASKIQ_BROKERS = {"redis": TASKIQ_REDIS_URL, "rabbitmq": RABBIT_URL}
TASKIQ_EXCHANGE = "spakky-bench-taskiq"
"""RabbitMQ exchange of the taskiq benchmarks (both sides), not taskiq's default."""


def taskiq_env(url: str, queue: str) -> dict[str, str | None]:
    """``SPAKKY_TASKIQ__*`` for a benchmark app on ``url`` with its own queue."""
    return {
        "SPAKKY_TASKIQ__BROKER_URL": url,
        "SPAKKY_TASKIQ__QUEUE": queue,
        "SPAKKY_TASKIQ__EXCHANGE": TASKIQ_EXCHANGE,
        "SPAKKY_TASKIQ__RESULT_BACKEND": None,
    }


def delete_taskiq_queue(url: str, queue: str) -> None:
    """Drop a taskiq benchmark queue (a Redis stream, a RabbitMQ queue) and its
    dead letters."""
    dead = f"{queue}.dead_letter"
    try:
        if url.startswith("redis"):
            import redis

            redis.Redis.from_url(url).delete(queue, dead)
        elif url.startswith("amqp"):
            import asyncio

            import aio_pika

            async def drop() -> None:
                connection = await aio_pika.connect(url, timeout=5)
                async with connection:
                    channel = await connection.channel()
                    await channel.queue_delete(queue)
                    await channel.queue_delete(dead)

            asyncio.run(drop())
    except Exception as error:  # the run's numbers matter more than cleanup
        print(f"  (could not delete queue {queue}: {error})")
