"""Test kit: the transport-neutral one of spakky-dispatch, and a real Celery worker.

Example::

    with capture_tasks(app) as captured:
        app.container.get(OrderHandler).place(order_id=7)
    captured.assert_dispatched(OrderHandler.place, order_id=7)
    captured.run_all()          # through the real worker pipeline: DI, propagators

    with embedded_worker(app):  # a Celery worker in a thread of this process
        assert app.container.get(OrderHandler).place(order_id=8).get(timeout=10)
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery import Celery
from celery.contrib.testing.worker import start_worker
from spakky.core.application.application import SpakkyApplication

from spakky.dispatch.core.testing import *  # noqa: F403  (the neutral test kit)
from spakky.dispatch.core.testing import __all__ as _kit


@contextmanager
def embedded_worker(
    application: SpakkyApplication, *, pool: str = "solo", **options: Any
) -> Iterator[Celery]:
    """Run a real Celery worker for ``application`` in a thread of this process."""
    celery = application.container.get(Celery)
    with start_worker(celery, pool=pool, perform_ping_check=False, **options):
        yield celery


__all__ = [*_kit, "embedded_worker"]
