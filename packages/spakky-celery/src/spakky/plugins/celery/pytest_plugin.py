"""pytest fixture for running a Celery worker in a test (loaded automatically).

``spakky_task_capture`` comes from spakky-dispatch's own pytest plugin.
"""

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from celery import Celery
from spakky.core.application.application import SpakkyApplication

from spakky.plugins.celery.testing import embedded_worker


@pytest.fixture
def spakky_celery_worker() -> Iterator[Callable[..., Celery]]:
    """Run an in-process Celery worker for an application; stopped after the test.

    ``spakky_celery_worker(app)`` needs a broker the test process can reach,
    e.g. ``SPAKKY_CELERY__BROKER_URL=memory://`` with a ``cache+memory://``
    result backend, or a real Redis / RabbitMQ.
    """
    with ExitStack() as stack:

        def start(application: SpakkyApplication, **options: Any) -> Celery:
            return stack.enter_context(embedded_worker(application, **options))

        yield start
