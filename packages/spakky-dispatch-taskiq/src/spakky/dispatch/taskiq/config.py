"""``TaskiqConfig``: settings read from ``SPAKKY_TASKIQ__*`` environment variables."""

from typing import ClassVar, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from spakky.core.pod.annotations.lazy import Lazy
from spakky.core.stereotype.configuration import Configuration

from spakky.dispatch.core.adapter import (
    DEFAULT_MAX_HEADER_BYTES,
    check_timezone,
    reporting_settings_errors,
)
from spakky.dispatch.taskiq.urls import BACKEND_SCHEMES, BROKER_SCHEMES, check_url

ENV_PREFIX = "SPAKKY_TASKIQ__"
"""Prefix of every variable read by ``TaskiqConfig``."""


@Lazy()
@Configuration()
class TaskiqConfig(BaseSettings):
    """taskiq settings for a Spakky application.

    Every field is read from ``SPAKKY_TASKIQ__<FIELD>`` (case-insensitive).
    """

    model_config: ClassVar[SettingsConfigDict] = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        case_sensitive=False,
        extra="ignore",
    )

    broker_url: str | None = Field(default=None, repr=False)
    """Broker URL: ``redis://host:6379/0``, ``amqp://user:pass@host:5672//`` or ``memory://``; required unless the application registers its own ``AsyncBroker`` pod."""

    result_backend: str | None = Field(default=None, repr=False)
    """Redis URL where results are stored, e.g. ``redis://host:6379/1``; None stores no results."""

    queue: str = Field(default="taskiq", min_length=1)
    """Queue that tasks are sent to and workers consume (a Redis stream or list, or a RabbitMQ queue); rejected messages go to ``<queue>.dead_letter``."""

    redis_broker: Literal["stream", "list"] = "stream"
    """Redis: ``stream`` (acknowledged after the task ran: at least once) or ``list`` (taken off the list when received: at most once)."""

    redelivery_timeout: float = Field(default=60.0, ge=1)
    """Redis stream: seconds after which a message held by a worker that stopped renewing it (killed, frozen) goes to another worker."""

    max_deliveries: int = Field(default=5, ge=1)
    """Redis stream and RabbitMQ quorum queue: deliveries of one message (a task that kills its worker every time) before it is dead-lettered instead."""

    stream_read_count: int = Field(default=100, ge=1, le=10_000)
    """Redis stream: entries a worker reads at most per round trip; read entries wait (renewed) for a free slot of the worker, so a lower value leaves more for other workers when tasks are long."""

    rabbitmq_queue_type: Literal["quorum", "classic"] = "quorum"
    """RabbitMQ: type of the queue; ``classic`` counts no deliveries, so ``MAX_DELIVERIES`` does not apply to it."""

    exchange: str = Field(default="taskiq", min_length=1)
    """RabbitMQ: the exchange the queue is bound to, with the queue name as routing key."""

    timezone: str = "UTC"
    """IANA timezone of daily and crontab schedules, e.g. ``Asia/Seoul``."""

    result_ttl: int = Field(default=86400, gt=0)
    """Seconds a stored result is kept."""

    broker_loop: Literal["caller", "own"] = "caller"
    """Outside a worker, where the broker lives: ``caller`` on the running loop of the awaited call that starts it (awaited calls there reach it directly; on that loop a sync send starts its publish without waiting and a sync result read is refused); ``own`` on a loop thread of its own (every call crosses to it; sync calls may wait for it from any thread)."""

    connect_timeout: float = Field(default=5.0, gt=0)
    """Seconds a dispatch or result read waits for the broker or backend before it fails."""

    max_header_bytes: int = Field(default=DEFAULT_MAX_HEADER_BYTES, gt=0)
    """Budget in bytes of the propagation headers (labels) added to one message."""

    fast_send: bool = True
    """Build the broker message and make the broker's publish directly (Redis on one long-lived client, RabbitMQ without an aio-pika message object; ``spakky.dispatch.taskiq.fast_send``); ``false`` sends every message the way ``kiq`` does."""

    def __init__(self) -> None:
        with reporting_settings_errors(ENV_PREFIX):
            super().__init__()

    @field_validator("broker_url")
    @classmethod
    def _broker_url(cls, value: str | None) -> str | None:
        return None if value is None else check_url(value, BROKER_SCHEMES, "broker")

    @field_validator("result_backend")
    @classmethod
    def _result_backend(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return check_url(value, BACKEND_SCHEMES, "result backend")

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return check_timezone(value)
