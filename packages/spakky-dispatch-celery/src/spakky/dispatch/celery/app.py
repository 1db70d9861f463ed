"""Building a Celery application from ``CeleryConfig``."""

from celery import Celery

from spakky.dispatch.celery.config import CeleryConfig
from spakky.dispatch.celery.fast_publish import FAST_PUBLISH_KEY
from spakky.dispatch.celery.urls import masked_url, scheme_of
from spakky.dispatch.celery.worker_keys import (
    DEAD_LETTER_LIMIT_KEY,
    MAX_MESSAGE_BYTES_KEY,
    MAX_REDELIVERIES_KEY,
)

PUBLISH_TIMEOUT_KEY = "spakky_publish_timeout"
"""``app.conf`` key: seconds one publish may wait on the broker (None: no bound)."""

MAX_HEADER_BYTES_KEY = "spakky_max_header_bytes"
"""``app.conf`` key: budget in bytes of the propagation headers of one message."""

_REDIS = frozenset({"redis", "rediss", "sentinel"})
_AMQP = frozenset({"amqp", "amqps", "pyamqp"})
_VISIBILITY = _REDIS | {"sqs", "SQS"}


def build_celery_app(
    config: CeleryConfig, *, celery_class: type[Celery] = Celery
) -> Celery:
    """Return a Celery application configured from ``config``.

    The application is not made Celery's "current app", so two Spakky
    applications in one process keep separate task registries.

    Args:
        config: The ``SPAKKY_CELERY__*`` settings.
        celery_class: Your own ``Celery`` subclass, e.g. one whose
            ``send_task`` adds headers; every dispatch then goes through it.
    """
    app = celery_class(
        config.app_name,
        broker=config.broker_url,
        backend=config.result_backend,
        set_as_current=False,
    )
    app.conf.update(
        task_serializer=config.task_serializer,
        result_serializer=config.result_serializer,
        accept_content=list(config.accept_content),
        result_accept_content=list(config.accept_content),
        task_default_queue=config.default_queue,
        timezone=config.timezone,
        enable_utc=config.enable_utc,
        broker_connection_timeout=config.broker_connection_timeout,
        broker_connection_retry_on_startup=True,
        broker_transport_options=broker_transport_options(config),
        task_publish_retry=config.publish_retry,
        task_publish_retry_policy={
            "max_retries": config.publish_max_retries,
            "interval_start": 0,
            "interval_step": config.publish_retry_interval,
            "interval_max": config.publish_retry_interval,
        },
        task_acks_late=config.task_acks_late,
        task_reject_on_worker_lost=config.task_reject_on_worker_lost,
        redis_socket_timeout=config.result_backend_timeout,
        redis_socket_connect_timeout=config.result_backend_timeout,
        task_compression=config.task_compression,
        beat_schedule={},
    )
    app.conf[PUBLISH_TIMEOUT_KEY] = config.broker_socket_timeout
    app.conf[MAX_HEADER_BYTES_KEY] = config.max_header_bytes
    app.conf[FAST_PUBLISH_KEY] = config.fast_publish
    app.conf[MAX_MESSAGE_BYTES_KEY] = config.max_message_bytes
    app.conf[MAX_REDELIVERIES_KEY] = config.max_redeliveries
    app.conf[DEAD_LETTER_LIMIT_KEY] = config.dead_letter_limit
    if config.result_backend and scheme_of(config.result_backend) in _REDIS:
        app.conf.result_backend_transport_options = {
            "retry_policy": {
                "max_retries": config.result_backend_max_retries,
                "interval_start": 0,
                "interval_step": 0.5,
                "interval_max": 1,
            }
        }
    return app


def broker_transport_options(config: CeleryConfig) -> dict[str, object]:
    """Kombu transport options for the configured broker, bounding every wait.

    Redis gets socket timeouts (a silent broker would otherwise block a
    publish forever), AMQP publisher confirms (a publish is only done once
    the broker has the message); ``BROKER_TRANSPORT_OPTIONS`` applies last.
    """
    scheme = scheme_of(config.broker_url.split(";")[0])
    options: dict[str, object] = {}
    if scheme in _REDIS:
        options["socket_timeout"] = config.broker_socket_timeout
        options["socket_connect_timeout"] = config.broker_connection_timeout
    if scheme in _AMQP:
        options["confirm_publish"] = config.publish_confirm
    if scheme in _VISIBILITY and config.visibility_timeout is not None:
        options["visibility_timeout"] = config.visibility_timeout
    options.update(config.broker_transport_options)
    return options


__all__ = [
    "DEAD_LETTER_LIMIT_KEY",
    "MAX_HEADER_BYTES_KEY",
    "MAX_MESSAGE_BYTES_KEY",
    "MAX_REDELIVERIES_KEY",
    "PUBLISH_TIMEOUT_KEY",
    "broker_transport_options",
    "build_celery_app",
    "masked_url",
]
