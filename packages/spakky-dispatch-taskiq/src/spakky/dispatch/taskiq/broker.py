"""Building a taskiq broker and result backend from ``TaskiqConfig``."""

from typing import Any

from aiormq.exceptions import ChannelInvalidStateError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from taskiq import AsyncBroker, InMemoryBroker
from taskiq.serializers import JSONSerializer
from taskiq_aio_pika import QueueType
from taskiq_redis import RedisAsyncResultBackend

from spakky.dispatch.core.adapter import InvalidSettingsError
from spakky.dispatch.taskiq.amqp_broker import RabbitQueueBroker
from spakky.dispatch.taskiq.config import TaskiqConfig
from spakky.dispatch.taskiq.list_broker import RedisListQueueBroker
from spakky.dispatch.taskiq.stream_broker import RedisStreamQueueBroker
from spakky.dispatch.taskiq.urls import (
    AMQP_SCHEMES,
    REDIS_SCHEMES,
    masked_url,
    scheme_of,
)

CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # includes ConnectionError, TimeoutError and aiormq's connection errors
    RedisConnectionError,
    RedisTimeoutError,
    ChannelInvalidStateError,
)
"""Errors meaning "the broker or backend cannot be reached", whatever the client."""


def build_broker(config: TaskiqConfig) -> AsyncBroker:
    """Return the taskiq broker selected by ``config.broker_url``'s scheme.

    ``redis://`` / ``rediss://`` give a ``RedisStreamQueueBroker`` on the
    stream ``config.queue`` (acknowledged after the task ran), or with
    ``config.redis_broker == "list"`` a ``RedisListQueueBroker`` on the list
    ``config.queue`` (taken when received); ``amqp://`` / ``amqps://`` a
    ``RabbitQueueBroker`` with one durable queue ``config.queue`` (quorum
    unless ``config.rabbitmq_queue_type`` says classic) bound to
    ``config.exchange``; ``memory://`` taskiq's ``InMemoryBroker``, which runs
    tasks in the dispatching process. Rejected messages go to
    ``<queue>.dead_letter``. A Redis ``config.result_backend`` stores results
    as JSON for ``config.result_ttl`` seconds.

    Raises:
        InvalidSettingsError: No broker URL is configured.
    """
    url = config.broker_url
    if url is None:
        raise InvalidSettingsError(
            "SPAKKY_TASKIQ__BROKER_URL is not set; set it (e.g. "
            "redis://localhost:6379/0) or register your own AsyncBroker pod"
        )
    scheme = scheme_of(url)
    broker: AsyncBroker
    if scheme in REDIS_SCHEMES and config.redis_broker == "list":
        broker = RedisListQueueBroker(
            url,
            queue_name=config.queue,
            socket_connect_timeout=config.connect_timeout,
        )
    elif scheme in REDIS_SCHEMES:
        broker = RedisStreamQueueBroker(
            url,
            queue_name=config.queue,
            redelivery_timeout=config.redelivery_timeout,
            max_deliveries=config.max_deliveries,
            read_count=config.stream_read_count,
            socket_connect_timeout=config.connect_timeout,
        )
    elif scheme in AMQP_SCHEMES:
        broker = RabbitQueueBroker(
            url,
            queue_name=config.queue,
            exchange_name=config.exchange,
            queue_type=QueueType(config.rabbitmq_queue_type),
            max_deliveries=config.max_deliveries,
            timeout=config.connect_timeout,
        )
    else:
        broker = InMemoryBroker()
    backend = build_result_backend(config)
    if backend is not None:
        broker.with_result_backend(backend)
    return broker


def build_result_backend(
    config: TaskiqConfig,
) -> RedisAsyncResultBackend[Any] | None:
    """The Redis result backend of ``config``, or None when results are not stored."""
    if config.result_backend is None:
        return None
    return RedisAsyncResultBackend(
        redis_url=config.result_backend,
        result_ex_time=config.result_ttl,
        serializer=JSONSerializer(),
        socket_connect_timeout=config.connect_timeout,
        socket_timeout=config.connect_timeout,
    )


def describe_broker(broker: AsyncBroker) -> str:
    """Where ``broker`` sends messages, for error messages (passwords masked)."""
    url = getattr(broker, "url", None)
    if isinstance(url, str):
        return masked_url(url)
    pool = getattr(broker, "connection_pool", None)
    options = getattr(pool, "connection_kwargs", None)
    if isinstance(options, dict) and "host" in options:
        return f"redis://{options['host']}:{options.get('port', 6379)}/{options.get('db', 0)}"
    return type(broker).__name__
