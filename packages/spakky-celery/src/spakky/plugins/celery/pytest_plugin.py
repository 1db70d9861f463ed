"""pytest fixtures for testing Spakky task handlers (loaded automatically)."""

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from celery import Celery
from spakky.core.application.application import SpakkyApplication

from spakky.plugins.celery.testing import CapturedTasks, capture_tasks, embedded_worker


@pytest.fixture
def spakky_task_capture() -> Iterator[Callable[[SpakkyApplication], CapturedTasks]]:
    """Start capturing an application's dispatches; restored after the test.

    ``captured = spakky_task_capture(app)`` then call tasks, assert on
    ``captured.messages`` / ``captured.assert_dispatched(...)``, and
    ``captured.run_all()`` to execute them in-process.
    """
    with ExitStack() as stack:

        def capture(application: SpakkyApplication) -> CapturedTasks:
            return stack.enter_context(capture_tasks(application))

        yield capture


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
