"""Raw Celery: the baseline app, importing no Spakky module.

Workers load it with ``-A benchmarks.celery.raw_app:raw_celery``.
"""

import asyncio
import os

from celery import Celery

from benchmarks.celery.settings import apply_copied
from benchmarks.harness.work import awork, tick, work

RAW_WORK, RAW_AWORK, RAW_TICK = "bench.raw.work", "bench.raw.awork", "bench.raw.tick"


def build_raw() -> Celery:
    """Raw Celery with the same settings and plain tasks doing the same work."""
    app = Celery(
        "bench-raw",
        broker=os.environ["SPAKKY_CELERY__BROKER_URL"],
        set_as_current=False,
    )
    apply_copied(app)

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
