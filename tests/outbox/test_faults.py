"""Transactional dispatch under broker faults: an outage, a permanent refusal.

The outage uses a private broker on a free port (``tests/faults/servers.py``),
stopped and started by the test; the refusal uses the shared brokers without
changing them (a queue of the test's own).
"""

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from spakky.core.application.application import SpakkyApplication
from spakky.tracing import TraceContext
from sqlalchemy import Engine

from spakky.dispatch.core import dispatch_options
from spakky.dispatch.outbox import ITaskOutbox, outbox_partition
from tests.conftest import WorkerFactory
from tests.faults.servers import RabbitNode, RedisServer
from tests.outbox.apps.shop import build_app
from tests.outbox.apps.shop_handlers import PlaceOrder
from tests.outbox.conftest import Spawner, outbox_rows, run_lines, wait_runs
from tests.support.brokers import RABBITMQ, REDIS, Broker

pytestmark = pytest.mark.broker

TARGET = "tests.outbox.apps.shop:celery"
SOLO = ("-P", "solo")


@pytest.fixture
def private_broker(
    broker: Broker, tmp_path: Path
) -> Iterator[RedisServer | RabbitNode]:
    """A broker of this test's own, of the same kind as ``broker``."""
    if broker is RABBITMQ and not RabbitNode.available():
        pytest.skip("rabbitmq-server is not installed")
    server = (
        RedisServer(tmp_path / "redis")
        if broker is REDIS
        else RabbitNode(tmp_path / "rabbit")
    )
    server.start()
    try:
        yield server
    finally:
        server.close()


def test_outbox_broker_outage_expect_held_then_drained_in_partition_order(
    broker: Broker,
    private_broker: RedisServer | RabbitNode,
    outbox_env: dict[str, str],
    celery_env: dict[str, str],
    database: Engine,
    runs: Path,
    worker: WorkerFactory,
    relay: Spawner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Committed while the broker is down: held, no attempt spent, then sent in order."""
    url = private_broker.url()
    monkeypatch.setenv("SPAKKY_CELERY__BROKER_URL", url)
    env = {"SPAKKY_CELERY__BROKER_URL": url}
    app = build_app()
    try:
        place = app.container.get(PlaceOrder)
        ids = [f"G-{n:02d}" for n in range(8)]
        with worker(TARGET, *SOLO, env=env) as running, relay(**env):
            private_broker.stop()
            with outbox_partition("customer-9"):
                for start in range(0, len(ids), 2):
                    place.place_many(ids[start : start + 2])
            time.sleep(3)  # many relay polls against a dead broker
            held = outbox_rows(database)
            assert run_lines(runs) == []
            assert [row["published_at"] for row in held] == [None] * len(ids)
            assert [row["retry_count"] for row in held] == [0] * len(ids)
            private_broker.start()
            lines = wait_runs(runs, len(ids), timeout=120)
            assert running.process.poll() is None
    finally:
        app.stop()
    assert [line["order"] for line in lines] == ids
    assert all(row["published_at"] for row in outbox_rows(database))


def test_outbox_permanent_refusal_expect_retried_to_limit_then_abandoned_readable(
    broker: Broker,
    outbox_env: dict[str, str],
    celery_env: dict[str, str],
    database: Engine,
    runs: Path,
    worker: WorkerFactory,
    relay: Spawner,
) -> None:
    """Refused on every attempt: abandoned after 3, kept with its reason; the key moves on.

    RabbitMQ refuses a publish to a queue declared with other arguments (the
    test declares its own queue first); on Redis the transport refuses a
    message whose headers exceed the relay's budget.
    """
    app = build_app()
    try:
        place = app.container.get(PlaceOrder)
        relay_env: dict[str, str] = {}
        if broker is RABBITMQ:
            queue = f"spakky-refusing-{uuid.uuid4().hex[:8]}"
            _declare_with_max_length(broker.url, queue)
            refused_call = dispatch_options(queue=queue)
        else:
            relay_env["SPAKKY_CELERY__MAX_HEADER_BYTES"] = "16"
            refused_call = _traced()
        with worker(TARGET, *SOLO), relay(**relay_env):
            with outbox_partition("customer-3"):
                with refused_call:
                    place.place_many(["H-refused"])
                place.place_many(["H-after"])
            place.place_many(["H-other"])
            lines = wait_runs(runs, 2, timeout=60)
            time.sleep(1)
            lines = run_lines(runs)
        abandoned = app.container.get(ITaskOutbox).storage().abandoned()
    finally:
        app.stop()
    assert sorted(line["order"] for line in lines) == ["H-after", "H-other"]
    rows = {json.loads(row["payload"])["args"][0]: row for row in outbox_rows(database)}
    refused = rows["H-refused"]
    assert refused["abandoned_at"] is not None
    assert refused["published_at"] is None
    assert refused["retry_count"] == 2  # attempts 1 and 2 counted, the 3rd abandons
    assert rows["H-after"]["published_at"] > refused["abandoned_at"]
    [record] = abandoned
    assert json.loads(record.message.payload)["args"] == ["H-refused"]
    expected = "BrokerRejectedError" if broker is RABBITMQ else "HeaderBudget"
    assert record.last_error is not None
    assert expected in record.last_error


def _declare_with_max_length(url: str, queue: str) -> None:
    from kombu import Connection, Queue

    with Connection(url) as connection:
        Queue(queue, queue_arguments={"x-max-length": 1}).bind(connection).declare()
        connection.release()


class _traced:
    """A block with a trace context active, so a ``traceparent`` header is sent."""

    def __enter__(self) -> None:
        TraceContext.set(TraceContext.new_root())

    def __exit__(self, *_: object) -> None:
        TraceContext.clear()


__all__ = ["SpakkyApplication"]
