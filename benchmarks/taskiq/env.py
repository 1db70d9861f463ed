"""Brokers and environment of the taskiq rows."""

from collections.abc import Mapping

from benchmarks.harness.env import RABBIT_URL
from benchmarks.harness.rows import Row
from benchmarks.harness.timing import Stat

TASKIQ_REDIS_URL = "redis://127.0.0.1:6379/14"
"""Broker and counter DB of the taskiq benchmarks (nothing else uses DB 14 here)."""
TASKIQ_BROKERS = {"redis": TASKIQ_REDIS_URL, "rabbitmq": RABBIT_URL}
TASKIQ_EXCHANGE = "spakky-bench-taskiq"
"""RabbitMQ exchange of the taskiq benchmarks (both sides), not taskiq's default."""
TRANSPORT = "taskiq"
OLD_MISSING = "spakky-celery 8.5.0 has no taskiq transport"


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


def taskiq_row(
    section: str, name: str, stats: Mapping[str, Stat], **fields: object
) -> Row:
    """A taskiq row (``Row.of``): no old column, 8.5.0 has no taskiq transport."""
    return Row.of(
        section, name, stats, old_missing=OLD_MISSING, transport=TRANSPORT, **fields
    )
