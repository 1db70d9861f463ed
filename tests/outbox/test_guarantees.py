"""Transactional dispatch on PostgreSQL, a real worker and real relay processes.

Each test runs on Redis and on RabbitMQ (Celery). The test process dispatches
with its relay off; relay processes (``relay_process``) publish, a Celery
worker runs the tasks and records each run (``shop_handlers``).
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from spakky.core.application.application import SpakkyApplication
from sqlalchemy import Engine, text

from spakky.dispatch.outbox import outbox_partition
from tests.conftest import WorkerFactory
from tests.outbox.apps.shop import build_app
from tests.outbox.apps.shop_handlers import OrderRefused, PlaceOrder
from tests.outbox.conftest import Spawner, outbox_rows, run_lines, wait_runs
from tests.support.brokers import Broker
from tests.support.worker import ROOT

pytestmark = pytest.mark.broker

TARGET = "tests.outbox.apps.shop:celery"
SOLO = ("-P", "solo")


@pytest.fixture
def shop(outbox_env: dict[str, str], celery_env: dict[str, str]) -> SpakkyApplication:
    app = build_app()
    yield app  # type: ignore[misc]
    app.stop()


def _orders(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return [
            row[0] for row in connection.execute(text("SELECT id FROM shop_orders"))
        ]


def test_outbox_rollback_and_commit_expect_only_committed_sent_once_with_handle_id(
    broker: Broker,
    shop: SpakkyApplication,
    database: Engine,
    runs: Path,
    worker: WorkerFactory,
    relay: Spawner,
) -> None:
    """A rolled-back order sends nothing; a committed one runs once, under its id."""
    place = shop.container.get(PlaceOrder)
    with worker(TARGET, *SOLO), relay():
        handle = place.place("A-1", "a@example.com")
        with pytest.raises(OrderRefused):
            place.place("A-2", "b@example.com", fail=True)
        assert handle.get(timeout=60) == "mailed A-1"  # type: ignore[call-arg]
        time.sleep(1.5)  # several relay polls: a rolled-back task would show now
        lines = run_lines(runs)
    assert [(line["order"], line["task_id"]) for line in lines] == [
        ("A-1", handle.task_id)
    ]
    assert _orders(database) == ["A-1"]
    [row] = outbox_rows(database)
    assert row["published_at"] is not None
    assert row["abandoned_at"] is None


def test_outbox_two_relay_processes_expect_every_task_run_exactly_once(
    broker: Broker,
    shop: SpakkyApplication,
    database: Engine,
    runs: Path,
    worker: WorkerFactory,
    relay: Spawner,
) -> None:
    """Two relays claim one outbox: each of 40 committed tasks runs once."""
    place = shop.container.get(PlaceOrder)
    ids = [f"B-{n:02d}" for n in range(40)]
    with worker(TARGET, *SOLO), relay(), relay():
        task_ids: list[str] = []
        for start in range(0, len(ids), 8):
            task_ids += place.place_many(ids[start : start + 8])
        lines = wait_runs(runs, len(ids))
        time.sleep(2)  # a double publish would arrive by now
        lines = run_lines(runs)
    assert sorted(line["order"] for line in lines) == ids
    assert sorted(line["task_id"] for line in lines) == sorted(task_ids)
    rows = outbox_rows(database)
    assert len(rows) == len(ids)
    assert all(row["published_at"] is not None for row in rows)


def test_outbox_process_killed_after_commit_expect_restarted_relay_sends(
    broker: Broker,
    outbox_env: dict[str, str],
    celery_env: dict[str, str],
    database: Engine,
    runs: Path,
    worker: WorkerFactory,
    relay: Spawner,
    tmp_path: Path,
) -> None:
    """SIGKILL after the commit, before any relay ran: a relay started later sends it.

    A claim left by a relay killed mid-batch is given up after the claim
    timeout and sent by the next relay too.
    """
    log = tmp_path / "placer.log"
    with log.open("wb") as out:
        placer = subprocess.Popen(
            [sys.executable, "-m", "tests.outbox.place_and_wait", "C-1"],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while "committed C-1" not in log.read_text() and time.monotonic() < deadline:
        assert placer.poll() is None, log.read_text()
        time.sleep(0.1)
    os.killpg(placer.pid, signal.SIGKILL)
    placer.wait()
    task_id = log.read_text().split("committed C-1 ")[1].split()[0]
    [row] = outbox_rows(database)
    assert row["published_at"] is None
    assert run_lines(runs) == []

    # A relay that claims the message and dies before publishing it.
    from spakky.dispatch.outbox import ITaskOutbox

    app = build_app()
    try:
        claimed = app.container.get(ITaskOutbox).storage().fetch_pending(10, 3)
    finally:
        app.stop()
    assert [c.event_name for c in claimed] == [row["event_name"]]

    with worker(TARGET, *SOLO), relay():
        [line] = wait_runs(runs, 1, timeout=60)  # after the 3 s claim timeout
    assert (line["order"], line["task_id"]) == ("C-1", task_id)
    [row] = outbox_rows(database)
    assert row["published_at"] is not None


def test_outbox_trace_and_auth_snapshot_expect_reach_worker_after_relay(
    broker: Broker,
    outbox_env: dict[str, str],
    celery_env: dict[str, str],
    database: Engine,
    runs: Path,
    worker: WorkerFactory,
    relay: Spawner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The caller's trace and signed identity, injected at dispatch, run the task."""
    from spakky.auth import AUTH_CONTEXT_CONTEXT_KEY, AuthContext, AuthSubject
    from spakky.tracing import TraceContext

    monkeypatch.setenv("SPAKKY_AUTH_SNAPSHOT_PROPAGATION_ENABLED", "true")
    app = build_app()
    try:
        customer = AuthContext(
            subject=AuthSubject(id="carol"),
            issuer="https://issuer.example",
            roles=("customer",),
        )
        context = app.application_context
        trace = TraceContext.new_root()
        with worker(TARGET, *SOLO), relay():
            context.clear_context()
            context.set_context_value(AUTH_CONTEXT_CONTEXT_KEY, customer)
            TraceContext.set(trace)
            try:
                handle = app.container.get(PlaceOrder).place(
                    "D-1", "c@example.com", protected=True
                )
            finally:
                TraceContext.clear()
                context.clear_context()
            assert handle.get(timeout=60) == "mailed D-1"  # type: ignore[call-arg]
    finally:
        app.stop()
    [line] = run_lines(runs)
    assert line["subject"] == "carol"
    assert line["trace_id"] == trace.trace_id
    assert line["task_id"] == handle.task_id


def test_outbox_dispatch_outside_transaction_expect_sent_at_once(
    broker: Broker,
    shop: SpakkyApplication,
    database: Engine,
    runs: Path,
    worker: WorkerFactory,
) -> None:
    """Outside a transaction the task goes straight to the broker (no relay runs)."""
    from tests.outbox.apps.shop_handlers import MailTasks

    with worker(TARGET, *SOLO):
        handle = shop.container.get(MailTasks).confirm("E-1")
        assert handle.get(timeout=60) == "mailed E-1"  # type: ignore[attr-defined]
    assert outbox_rows(database) == []


def test_outbox_partition_key_expect_relayed_in_dispatch_order(
    broker: Broker,
    shop: SpakkyApplication,
    database: Engine,
    runs: Path,
    worker: WorkerFactory,
    relay: Spawner,
) -> None:
    """Tasks of one partition key, in several transactions, run in dispatch order."""
    place = shop.container.get(PlaceOrder)
    ids = [f"F-{uuid.uuid4().hex[:4]}-{n:02d}" for n in range(12)]
    with outbox_partition("customer-7"):
        for start in range(0, len(ids), 3):
            place.place_many(ids[start : start + 3])
    with worker(TARGET, *SOLO), relay(), relay():
        lines = wait_runs(runs, len(ids))
    assert [line["order"] for line in lines] == ids
    assert {row["partition_key"] for row in outbox_rows(database)} == {"customer-7"}
