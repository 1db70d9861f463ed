"""Raw Celery: the baseline app, importing no Spakky module.

Workers load it with ``-A benchmarks.raw_app:raw_celery``.
"""

import asyncio
import json
import os

from celery import Celery

from benchmarks.work import awork, tick, work

RAW_CONF_ENV = "SPAKKY_BENCH_RAW_CONF"
"""JSON of the Celery settings the plugin's app has (``raw_settings``), so both
sides publish and consume with the same broker options (confirms, timeouts)."""
SETTINGS = (
    "task_serializer",
    "result_serializer",
    "accept_content",
    "task_default_queue",
    "broker_connection_timeout",
    "broker_connection_retry_on_startup",
    "broker_transport_options",
    "task_publish_retry",
    "task_publish_retry_policy",
    "task_acks_late",
    "task_reject_on_worker_lost",
)


def raw_settings(celery: Celery) -> str:
    """The settings of ``celery`` that the raw app copies, as JSON."""
    return json.dumps({name: celery.conf[name] for name in SETTINGS})


RAW_WORK, RAW_AWORK, RAW_TICK = "bench.raw.work", "bench.raw.awork", "bench.raw.tick"


def build_raw() -> Celery:
    """Raw Celery with the same settings and plain tasks doing the same work."""
    app = Celery(
        "bench-raw",
        broker=os.environ["SPAKKY_CELERY__BROKER_URL"],
        set_as_current=False,
    )
    app.conf.update(json.loads(os.environ.get(RAW_CONF_ENV, "{}")))
    app.conf.task_default_queue = os.environ["SPAKKY_CELERY__DEFAULT_QUEUE"]

    @app.task(name=RAW_WORK, shared=False)
    def raw_work(a: int, b: str, k: int = 0) -> int:
        return work(a, b, k)

    @app.task(name=RAW_AWORK, shared=False)
    def raw_awork(a: int, b: str, k: int = 0) -> int:
        return asyncio.run(awork(a, b, k))

    @app.task(name=RAW_TICK, shared=False)
    def raw_tick() -> None:
        tick()

    return app


def __getattr__(name: str) -> Celery:
    if name == "raw_celery":
        return build_raw()
    raise AttributeError(name)
