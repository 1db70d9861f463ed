"""Dispatch and execution through a real in-process Celery worker (memory://)."""

import asyncio
from collections.abc import Iterator

import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker
from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext

import spakky.plugins.celery
from spakky.dispatch.celery import CeleryTaskResult
from spakky.dispatch.core import (
    InvalidDispatchOptionsError,
    TaskArgumentSerializationError,
    TaskDispatcher,
    current_task_execution,
    dispatch_options,
)
from spakky.plugins.celery.testing import capture_tasks

from . import plugin_handlers
from .conftest import AppFactory
from .plugin_handlers import (
    AsyncHandler,
    Counter,
    FlakyError,
    RetryingHandler,
    SyncHandler,
)


@pytest.fixture(scope="module")
def running() -> Iterator[SpakkyApplication]:
    """An application plus an in-process worker consuming its queue."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SPAKKY_CELERY__BROKER_URL", "memory://")
        env.setenv("SPAKKY_CELERY__RESULT_BACKEND", "cache+memory://")
        env.setenv("SPAKKY_CELERY__DEFAULT_QUEUE", "plugin-runtime")
        app = (
            SpakkyApplication(ApplicationContext())
            .load_plugins(include={spakky.plugins.celery.PLUGIN_NAME})
            .scan(plugin_handlers)
            .start()
        )
    celery = app.container.get(Celery)
    with start_worker(celery, pool="solo", perform_ping_check=False):
        yield app
    app.stop()


def test_sync_task_dispatched_expect_result_handle_and_di(
    running: SpakkyApplication,
) -> None:
    """A sync @task call returns a handle; the worker ran it with DI."""
    handler = running.container.get(SyncHandler)
    counter = running.container.get(Counter)
    before = counter.count
    result = handler.add(2, 3)
    assert isinstance(result, CeleryTaskResult)
    assert result.get(timeout=10) == 5
    assert counter.count == before + 1


def test_nested_task_inside_worker_expect_inline_value(
    running: SpakkyApplication,
) -> None:
    """Inside a worker a @task call runs inline and returns the method's value."""
    handler = running.container.get(SyncHandler)
    assert handler.outer("hi").get(timeout=10) == "outer(HI)"


def test_async_task_dispatched_expect_awaitable_handle(
    running: SpakkyApplication,
) -> None:
    """An async @task call awaits to a handle whose value is awaitable too."""
    handler = running.container.get(AsyncHandler)

    async def scenario() -> tuple[int, int]:
        product = await handler.mul(6, 7)
        chained = await handler.chain(4)
        return (
            int(await product.get_async(timeout=10)),
            int(await chained.get_async(timeout=10)),
        )

    assert asyncio.run(scenario()) == (42, 40)


def test_plain_method_on_handler_expect_runs_locally(
    running: SpakkyApplication,
) -> None:
    """Methods without @task are not intercepted."""
    assert running.container.get(SyncHandler).plain() == "not a task"


def test_dispatcher_send_expect_broker_dispatch(running: SpakkyApplication) -> None:
    """TaskDispatcher.send sends a @task call explicitly."""
    dispatcher = running.container.get(TaskDispatcher)
    handler = running.container.get(SyncHandler)
    assert dispatcher.send(handler.add, 1, 1).get(timeout=10) == 2


def test_in_process_apply_expect_marker_not_leaking_to_caller(
    memory_env: pytest.MonkeyPatch, make_app: AppFactory
) -> None:
    """Running an endpoint in the caller's thread leaves the caller's scope alone."""
    app = make_app(plugin_handlers)
    context = app.application_context
    context.set_context_value("caller.value", "kept")
    celery = app.container.get(Celery)
    name = f"{plugin_handlers.__name__}.SyncHandler.outer"
    assert celery.tasks[name].apply(args=("x",)).get() == "outer(X)"
    assert current_task_execution(context) is None
    assert context.get_context_value("caller.value") == "kept"
    # Outside the worker the next call is dispatched again, not run inline.
    assert isinstance(app.container.get(SyncHandler).inner("y"), CeleryTaskResult)


def test_unserializable_argument_expect_error_at_call_site(
    running: SpakkyApplication,
) -> None:
    """An argument JSON cannot carry fails the call itself, naming task and argument."""
    handler = running.container.get(SyncHandler)
    with pytest.raises(TaskArgumentSerializationError) as raised:
        handler.add(object(), 1)
    assert "SyncHandler.add: argument 0 of type object" in str(raised.value)


def test_retry_policy_on_real_worker_expect_success_after_retries(
    running: SpakkyApplication,
) -> None:
    """A task failing with a covered error is retried by the worker, then succeeds."""
    handler = running.container.get(RetryingHandler)
    assert handler.eventually("twice", 2).get(timeout=20) == 3


def test_retry_policy_exhausted_expect_original_error(
    running: SpakkyApplication,
) -> None:
    """After max_retries the caller gets the task's own exception."""
    handler = running.container.get(RetryingHandler)
    with pytest.raises(FlakyError, match="attempt 4"):
        handler.eventually("always", 99).get(timeout=20)


def test_declared_and_call_options_expect_in_sent_message(
    running: SpakkyApplication,
) -> None:
    """Declared options apply; a dispatch_options block overrides them per call."""
    handler = running.container.get(RetryingHandler)
    with capture_tasks(running) as captured:
        handler.report()
        with dispatch_options(queue="urgent", countdown=5):
            handler.report()
    declared, overridden = captured.messages
    assert (declared.options.queue, declared.options.priority) == ("reports", 7)
    assert (overridden.options.queue, overridden.options.countdown) == ("urgent", 5)
    assert overridden.options.priority == 7
    with (
        dispatch_options(countdown=-1),
        pytest.raises(InvalidDispatchOptionsError, match="countdown must be >= 0"),
    ):
        handler.report()
