"""Brokers and environment of the Celery rows."""

from typing import Any

from benchmarks.celery.settings import SETTINGS_ENV, copied
from benchmarks.harness.env import RABBIT_URL, environment

REDIS_URL = "redis://127.0.0.1:6379/15"
"""Broker and counter DB of the benchmarks (nothing else uses DB 15 here)."""
BROKERS = {"memory": "memory://", "redis": REDIS_URL, "rabbitmq": RABBIT_URL}


def broker_env(url: str, queue: str, **extra: str | None) -> dict[str, str | None]:
    """``SPAKKY_CELERY__*`` for a benchmark app on ``url`` with its own queue,
    and the settings of our plugin's app there, for the raw and old apps."""
    from spakky.dispatch.celery import CeleryConfig, build_celery_app

    env = {
        "SPAKKY_CELERY__BROKER_URL": url,
        "SPAKKY_CELERY__DEFAULT_QUEUE": queue,
        "SPAKKY_CELERY__RESULT_BACKEND": None,
        **extra,
    }
    with environment(**env):
        env[SETTINGS_ENV] = copied(build_celery_app(CeleryConfig()))
    return env


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
