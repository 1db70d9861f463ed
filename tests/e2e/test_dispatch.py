"""End to end: a real ``celery worker`` process runs dispatched tasks with DI."""

import asyncio
import os

import pytest
from spakky.core.application.application import SpakkyApplication

from spakky.dispatch.celery import CeleryTaskResult
from tests.conftest import WorkerFactory
from tests.e2e.apps.basic import build_app
from tests.e2e.apps.basic_handlers import AsyncReportHandler, EmailTaskHandler

TARGET = "tests.e2e.apps.basic:celery"

pytestmark = pytest.mark.broker


@pytest.fixture
def app(celery_env: dict[str, str]) -> SpakkyApplication:
    application = build_app()
    yield application
    application.stop()


def test_sync_task_runs_on_worker_with_injected_dependency_expect_greeting(
    app: SpakkyApplication, worker: WorkerFactory
) -> None:
    """A sync @task call is sent to the broker and a worker runs it with DI."""
    handler = app.container.get(EmailTaskHandler)
    with worker(TARGET, "-P", "solo"):
        result = handler.send_email("user@example.com", "Hello", "World")
        assert isinstance(result, CeleryTaskResult)
        assert result.task_id
        value = result.get(timeout=30)
    assert value["worker_pid"] != os.getpid()
    assert value["greeting"].startswith("hello user@example.com from greeter@")
    assert value["greeting"].endswith(str(value["worker_pid"]))
    assert value["subject"] == "HELLO"
    assert value["body"] == "World"


def test_async_task_dispatched_and_awaited_expect_inline_nested_value(
    app: SpakkyApplication, worker: WorkerFactory
) -> None:
    """An async @task call returns a handle; the nested async call runs inline."""
    handler = app.container.get(AsyncReportHandler)

    async def scenario() -> int:
        result = await handler.double(5)
        return int(await result.get_async(timeout=30))

    with worker(TARGET, "-P", "solo"):
        assert asyncio.run(scenario()) == 10


@pytest.mark.parametrize("pool", ["solo", "threads", "prefork"])
def test_async_tasks_share_one_long_lived_loop_expect_pool_reused(
    app: SpakkyApplication, worker: WorkerFactory, pool: str
) -> None:
    """An async resource created by one task is usable by the next one."""
    handler = app.container.get(AsyncReportHandler)

    async def dispatch() -> object:
        return await handler.use_pool()

    with worker(TARGET, "-P", pool, "-c", "1"):
        first = asyncio.run(dispatch()).get(timeout=30)  # type: ignore[attr-defined]
        second = asyncio.run(dispatch()).get(timeout=30)  # type: ignore[attr-defined]
    assert first["uses"] == 1
    assert second["uses"] == 2
    assert first["loop_id"] == second["loop_id"]


@pytest.mark.parametrize("pool", ["solo", "threads", "prefork"])
def test_worker_context_marker_set_inside_task_expect_task_name_and_id(
    app: SpakkyApplication, worker: WorkerFactory, pool: str
) -> None:
    """Inside a worker the task sees its own execution marker."""
    handler = app.container.get(EmailTaskHandler)
    with worker(TARGET, "-P", pool, "-c", "1"):
        result = handler.where_am_i()
        value = result.get(timeout=30)
    assert value["task"] == "tests.e2e.apps.basic_handlers.EmailTaskHandler.where_am_i"
    assert value["task_id"] == result.task_id


def test_task_exception_reraised_from_result_expect_value_error(
    app: SpakkyApplication, worker: WorkerFactory
) -> None:
    """The task's own exception reaches the caller as such."""
    handler = app.container.get(EmailTaskHandler)
    with worker(TARGET, "-P", "solo"):
        result = handler.fail("broken on purpose")
        with pytest.raises(ValueError, match="broken on purpose"):
            result.get(timeout=30)
