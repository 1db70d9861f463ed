"""Building a Celery application from ``CeleryConfig``."""

from celery import Celery
from kombu.utils.url import maybe_sanitize_url

from spakky.dispatch.celery.config import CeleryConfig


def build_celery_app(config: CeleryConfig) -> Celery:
    """Return a Celery application configured from ``config``.

    The application is not made Celery's "current app", so two Spakky
    applications in one process keep separate task registries.
    """
    app = Celery(
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
        task_publish_retry=config.publish_retry,
        task_publish_retry_policy={
            "max_retries": config.publish_max_retries,
            "interval_start": 0,
            "interval_step": config.publish_retry_interval,
            "interval_max": config.publish_retry_interval,
        },
        beat_schedule={},
    )
    return app


def masked_url(url: str | None) -> str:
    """Return ``url`` with any password replaced by ``**``."""
    if not url:
        return "<not set>"
    return str(maybe_sanitize_url(url))
