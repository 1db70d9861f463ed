"""Transactional dispatch on spakky-taskiq: the main guarantees, unchanged transport.

A ``spakky-taskiq worker`` process runs the shop; relay processes publish
through the taskiq sender, one of them with the async relay. Each test runs
on Redis and on RabbitMQ.
"""

import asyncio
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from spakky.core.application.application import SpakkyApplication
from sqlalchemy import Engine, text

from tests.outbox.apps.shop import build_taskiq_app
from tests.outbox.apps.shop_handlers import OrderRefused, PlaceOrder, PlaceOrderAsync
from tests.outbox.conftest import Spawner, outbox_rows, run_lines, wait_runs
from tests.support.brokers import RABBITMQ, REDIS, Broker, require_broker
from tests.support.worker import WorkerProcess, spawn

pytestmark = pytest.mark.broker


@pytest.fixture(params=[REDIS, RABBITMQ], ids=lambda broker: broker.name)
def taskiq_env(
    request: pytest.FixtureRequest,
    outbox_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    broker: Broker = request.param
    require_broker(broker)
    env = {
        "SPAKKY_TASKIQ__BROKER_URL": broker.url,
        "SPAKKY_TASKIQ__RESULT_BACKEND": broker.backend_url,
        "SPAKKY_TASKIQ__QUEUE": f"spakky-outbox-{uuid.uuid4().hex[:10]}",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def taskiq_worker(
    taskiq_env: dict[str, str], tmp_path: Path
) -> Iterator[WorkerProcess]:
    argv = [
        sys.executable,
        "-m",
        "spakky.plugins.taskiq.cli",
        "worker",
        "tests.outbox.apps.shop:build_taskiq_app",
        "--workers",
        "1",
    ]
    with spawn(
        argv, taskiq_env, tmp_path / "worker.log", ready="Listening started."
    ) as w:
        yield w


@pytest.fixture
def shop(taskiq_env: dict[str, str]) -> Iterator[SpakkyApplication]:
    app = build_taskiq_app()
    yield app
    app.stop()


def _orders(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT id FROM shop_orders ORDER BY id"))
        return [row[0] for row in rows]


def test_taskiq_outbox_rollback_commit_and_two_relays_expect_each_task_once(
    shop: SpakkyApplication,
    database: Engine,
    runs: Path,
    taskiq_worker: WorkerProcess,
    relay: Spawner,
) -> None:
    """Rolled back: nothing; committed: once each with two relays; handles work."""
    place = shop.container.get(PlaceOrder)
    with relay("taskiq"), relay("taskiq"):
        handle = place.place("T-1", "t@example.com")
        with pytest.raises(OrderRefused):
            place.place("T-2", "t@example.com", fail=True)
        many = place.place_many([f"T-M{n:02d}" for n in range(20)])
        assert handle.get(timeout=60) == "mailed T-1"  # type: ignore[call-arg]
        lines = wait_runs(runs, 21)
        time.sleep(1.5)
        lines = run_lines(runs)
    assert sorted(line["task_id"] for line in lines) == sorted([handle.task_id, *many])
    assert "T-2" not in _orders(database)
    assert all(row["published_at"] for row in outbox_rows(database))


def test_taskiq_outbox_async_transaction_and_async_relay_expect_sent_once(
    shop: SpakkyApplication,
    database: Engine,
    runs: Path,
    taskiq_worker: WorkerProcess,
    relay: Spawner,
) -> None:
    """An async use case stores through the async storage; the async relay sends."""
    place = shop.container.get(PlaceOrderAsync)

    async def scenario() -> str:
        handle = await place.place("TA-1")
        with pytest.raises(OrderRefused):
            await place.place("TA-2", fail=True)
        return str(await handle.get_async(timeout=60))  # type: ignore[call-arg]

    with relay("taskiq", SPAKKY_DISPATCH_OUTBOX__RELAY="async"):
        assert asyncio.run(scenario()) == "mailed TA-1"
        time.sleep(1.5)
    [line] = run_lines(runs)
    assert (line["task"], line["order"]) == ("confirm_async", "TA-1")
    assert _orders(database) == ["TA-1"]
