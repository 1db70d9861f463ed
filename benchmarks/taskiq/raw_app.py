"""Raw taskiq: the baseline app, importing no Spakky module.

Workers load it with ``taskiq worker benchmarks.taskiq.raw_app:broker``. The
broker is built from the same ``SPAKKY_TASKIQ__*`` environment, with the stock
classes that spakky-taskiq's ``build_broker`` builds on, configured alike: a
taskiq-redis ``RedisStreamBroker`` (acknowledged, as spakky-taskiq's default
stream broker; with taskiq-redis's own reading: 100 entries per read, no
renewal, acknowledged entries kept), a taskiq-aio-pika ``AioPikaBroker`` with
one durable quorum queue and its dead letters beside it, or taskiq's
``InMemoryBroker``; no result backend.
"""

import os
from typing import Any

from taskiq import AsyncBroker, InMemoryBroker
from taskiq_aio_pika import AioPikaBroker, Exchange, Queue, QueueType
from taskiq_redis import RedisStreamBroker

from benchmarks.harness.work import atick, awork, tick, work

RAW_WORK, RAW_AWORK = "bench.raw.work", "bench.raw.awork"
RAW_TICK, RAW_ATICK = "bench.raw.tick", "bench.raw.atick"
CONNECT_TIMEOUT = 5.0
"""spakky-taskiq's default ``SPAKKY_TASKIQ__CONNECT_TIMEOUT``."""


def raw_broker(url: str, queue: str, exchange: str = "taskiq") -> AsyncBroker:
    """A plain taskiq broker on ``url``, configured as spakky-taskiq's would be."""
    if url.startswith(("redis://", "rediss://")):
        return RedisStreamBroker(
            url,
            queue_name=queue,
            consumer_id="0",
            socket_connect_timeout=CONNECT_TIMEOUT,
        )
    if url.startswith(("amqp://", "amqps://")):
        return AioPikaBroker(
            url,
            exchange=Exchange(name=exchange),
            task_queues=[Queue(name=queue, type=QueueType.QUORUM)],
            dead_letter_queue=Queue(
                name=f"{queue}.dead_letter", type=QueueType.CLASSIC
            ),
            timeout=CONNECT_TIMEOUT,
        )
    return InMemoryBroker()


def build_raw_taskiq() -> tuple[AsyncBroker, dict[str, Any]]:
    """A raw broker from the environment and plain tasks doing the same work."""
    broker = raw_broker(
        os.environ["SPAKKY_TASKIQ__BROKER_URL"],
        os.environ.get("SPAKKY_TASKIQ__QUEUE", "taskiq"),
        os.environ.get("SPAKKY_TASKIQ__EXCHANGE", "taskiq"),
    )

    @broker.task(task_name=RAW_WORK)
    def raw_work(a: int, b: str, k: int = 0) -> int:
        return work(a, b, k)

    @broker.task(task_name=RAW_AWORK)
    async def raw_awork(a: int, b: str, k: int = 0) -> int:
        return await awork(a, b, k)

    @broker.task(task_name=RAW_TICK)
    def raw_tick() -> None:
        tick()

    @broker.task(task_name=RAW_ATICK)
    async def raw_atick() -> None:
        await atick()

    tasks = {
        RAW_WORK: raw_work,
        RAW_AWORK: raw_awork,
        RAW_TICK: raw_tick,
        RAW_ATICK: raw_atick,
    }
    return broker, tasks


_brokers: dict[int, AsyncBroker] = {}


def __getattr__(name: str) -> AsyncBroker:
    if name == "broker":  # built on first use, once per process
        pid = os.getpid()
        if pid not in _brokers:
            _brokers[pid] = build_raw_taskiq()[0]
        return _brokers[pid]
    raise AttributeError(name)
