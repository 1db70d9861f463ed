"""The test kit: capture without a broker, run in-process, embedded worker."""

from collections.abc import Callable

import pytest
from celery import Celery
from spakky.core.application.application import SpakkyApplication

from spakky.dispatch.core import TaskNotRegisteredError
from spakky.dispatch.core.testing import InMemoryTaskResult
from spakky.plugins.celery.testing import (
    CapturedTasks,
    TaskNotDispatchedError,
    capture_tasks,
)

from . import plugin_handlers
from .conftest import AppFactory
from .plugin_handlers import AsyncHandler, Counter, SyncHandler

Capture = Callable[[SpakkyApplication], CapturedTasks]


def test_capture_expect_messages_not_sent_and_assertable(
    memory_env: pytest.MonkeyPatch, make_app: AppFactory, spakky_task_capture: Capture
) -> None:
    """Dispatches are captured with name and arguments; nothing reaches a broker."""
    app = make_app(plugin_handlers)
    captured = spakky_task_capture(app)
    handler = app.container.get(SyncHandler)
    result = handler.add(2, right=3)
    assert isinstance(result, InMemoryTaskResult)
    message = captured.assert_dispatched(handler.add, 2, right=3)
    assert message.task_name.endswith("SyncHandler.add")
    assert captured.assert_dispatched(SyncHandler.add, 2, right=3) is message
    assert captured.named(message.task_name) == [message]
    assert captured.messages == [message]


def test_capture_wrong_arguments_expect_error_listing_captured(
    memory_env: pytest.MonkeyPatch, make_app: AppFactory
) -> None:
    """A failed expectation says what was captured instead."""
    app = make_app(plugin_handlers)
    with capture_tasks(app) as captured:
        app.container.get(SyncHandler).add(1, 1)
    with pytest.raises(
        TaskNotDispatchedError, match=r"captured: .*SyncHandler\.add\(1, 1\)"
    ):
        captured.assert_dispatched(SyncHandler.add, 9, 9)
    with pytest.raises(TaskNotDispatchedError, match="headers"):
        captured.assert_dispatched(SyncHandler.add, 1, 1, headers={"x": "y"})
    with pytest.raises(TaskNotRegisteredError, match="plain"):
        captured.named(SyncHandler.plain)


def test_run_all_expect_real_pipeline_with_di_and_inline_nesting(
    memory_env: pytest.MonkeyPatch, make_app: AppFactory
) -> None:
    """Captured tasks run in-process through the invoker, with DI and inline calls."""
    app = make_app(plugin_handlers)
    counter = app.container.get(Counter)
    with capture_tasks(app) as captured:
        handler = app.container.get(SyncHandler)
        added = handler.add(20, 22)
        nested = handler.outer("x")
        assert captured.run_all() == 2
    assert added.get() == 42
    assert nested.get() == "outer(X)"
    assert counter.count == 1
    assert captured.run_all() == 0
    captured.clear()
    assert captured.results == []


def test_capture_async_task_expect_captured_and_run(
    memory_env: pytest.MonkeyPatch, make_app: AppFactory
) -> None:
    """Async dispatches are captured too and run on the invoker's loop."""
    import asyncio

    app = make_app(plugin_handlers)
    with capture_tasks(app) as captured:
        handler = app.container.get(AsyncHandler)
        pending = asyncio.run(handler.mul(6, 7))  # type: ignore[arg-type]
        captured.run_all()
    assert pending.get() == 42


def test_capture_ends_expect_transport_sender_back(
    memory_env: pytest.MonkeyPatch, make_app: AppFactory
) -> None:
    """After the block, dispatches go to the transport again."""
    app = make_app(plugin_handlers)
    with capture_tasks(app):
        pass
    result = app.container.get(SyncHandler).add(1, 2)
    assert type(result).__name__ == "CeleryTaskResult"


def test_embedded_worker_fixture_expect_real_worker_runs_task(
    memory_env: pytest.MonkeyPatch,
    make_app: AppFactory,
    spakky_celery_worker: Callable[..., Celery],
) -> None:
    """The embedded worker executes dispatched tasks in this process."""
    memory_env.setenv("SPAKKY_CELERY__DEFAULT_QUEUE", "kit-embedded")
    app = make_app(plugin_handlers)
    celery = spakky_celery_worker(app)
    assert celery is app.container.get(Celery)
    assert app.container.get(SyncHandler).add(4, 5).get(timeout=10) == 9
