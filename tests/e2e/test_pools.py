"""Celery's own: the worker pools besides solo, with ``celery -A`` glue.

The scenarios run Celery's worker with the solo pool; here the scenario
application runs in a ``threads`` and a ``prefork`` pool (one thread, one
child), started as ``celery -A tests.scenarios.apps.app:celery worker``.
taskiq has no pools (docs/choosing-a-transport.md).
"""

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from spakky.core.application.application import SpakkyApplication

from tests.conftest import WorkerFactory
from tests.scenarios.apps.app import build_app
from tests.scenarios.apps.handlers import OrderHandler
from tests.scenarios.checks import TIMEOUT, assert_nothing_carried_over

pytestmark = pytest.mark.broker

TARGET = "tests.scenarios.apps.app:celery"


@pytest.fixture
def app(celery_env: dict[str, str]) -> Iterator[SpakkyApplication]:
    application = build_app("celery")
    yield application
    application.stop()


@pytest.mark.parametrize("pool", ["threads", "prefork"])
def test_celery_pool_expect_execution_marker_one_loop_and_clean_traces(
    app: SpakkyApplication, worker: WorkerFactory, pool: str
) -> None:
    """In each pool a task sees its own execution; async tasks share one loop.

    An async resource made by one task is usable by the next (one long-lived
    loop per worker process), and after a task, on success or exception, its
    trace is gone for the next one, sync tasks sharing the pool's one thread.
    """
    orders: Any = app.container.get(OrderHandler)  # @task calls give handles

    async def restock() -> dict[str, Any]:
        seen: dict[str, Any] = await (await orders.restock(2)).get_async(
            timeout=TIMEOUT
        )
        return seen

    with worker(TARGET, "-P", pool, "-c", "1"):
        first = asyncio.run(restock())
        second = asyncio.run(restock())
        placed = orders.place("ada", ["tea"])
        value = placed.get(timeout=TIMEOUT)
        assert_nothing_carried_over(app, sync_tasks_share_a_thread=True)

    assert first["uses"] == 1
    assert second["uses"] == 2
    assert first["loop"] == second["loop"]
    assert value["task"] == "tests.scenarios.apps.handlers.OrderHandler.place"
    assert value["task_id"] == placed.task_id


def test_celery_threads_pool_concurrent_async_tasks_expect_one_loop(
    app: SpakkyApplication, worker: WorkerFactory
) -> None:
    """Two threads running async tasks at once share the process's one loop.

    Async tasks run on the thread that executes them while calls do not
    overlap; once two do, the loop moves to its own thread: either way the
    loop-bound pool made by the first task serves every later one.
    """
    orders: Any = app.container.get(OrderHandler)

    async def restock_all(count: int) -> list[dict[str, Any]]:
        handles = [await orders.restock(2) for _ in range(count)]
        return [await handle.get_async(timeout=TIMEOUT) for handle in handles]

    with worker(TARGET, "-P", "threads", "-c", "2"):
        seen = asyncio.run(restock_all(8))

    # concurrent tasks interleave on the one loop: a use may be counted by both
    assert max(each["uses"] for each in seen) == 8
    assert len({each["loop"] for each in seen}) == 1
    assert len({each["pid"] for each in seen}) == 1
