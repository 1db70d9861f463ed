"""spakky-outbox's event relay and the task relay, side by side on one database.

The event relay claims every pending row of the storage it is given; task
messages live in a table of their own, so it never sees them, and the task
relay never sees an event. Both relays run while one transaction stores an
event and dispatches a task.
"""

import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import override
from uuid import uuid4

import pytest
from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext
from spakky.core.pod.annotations.pod import Pod
from spakky.data.aspects.transactional import Transactional
from spakky.event.event_publisher import IEventTransport
from spakky.outbox.common.config import OutboxConfig
from spakky.outbox.common.message import OutboxMessage
from spakky.outbox.relay.relay import OutboxRelayBackgroundService
from spakky.plugins.sqlalchemy.outbox.storage import SqlAlchemyOutboxStorage
from spakky.plugins.sqlalchemy.persistency.connection_manager import ConnectionManager
from spakky.plugins.sqlalchemy.persistency.session_manager import SessionManager
from sqlalchemy import Engine, text

import spakky.plugins.celery
from tests.conftest import WorkerFactory
from tests.outbox.apps import shop
from tests.outbox.apps.shop_handlers import MailTasks
from tests.outbox.conftest import outbox_rows, wait_runs
from tests.support.brokers import Broker

pytestmark = pytest.mark.broker


class RecordingEventTransport(IEventTransport):
    """spakky-event's transport port, keeping what the event relay sends."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    @override
    def send(
        self,
        event_name: str,
        payload: bytes,
        headers: dict[str, str],
        partition_key: str | None = None,
    ) -> None:
        self.sent.append((event_name, payload))

    @override
    def flush(self) -> None:
        return


@Pod()
class PlaceWithEvent:
    """One transaction: an integration event in the event outbox, a task dispatched."""

    def __init__(
        self,
        sessions: SessionManager,
        connections: ConnectionManager,
        mail: MailTasks,
    ) -> None:
        self.events = SqlAlchemyOutboxStorage(sessions, connections)
        self.mail = mail

    @Transactional()
    def place(self, order_id: str) -> str:
        self.events.save(
            OutboxMessage(
                id=uuid4(),
                event_name="OrderPlaced",
                payload=order_id.encode(),
                headers={},
                created_at=datetime.now(UTC),
            )
        )
        return self.mail.confirm(order_id).task_id  # type: ignore[attr-defined, no-any-return]


def test_outbox_event_relay_beside_task_relay_expect_each_only_its_own(
    broker: Broker,
    outbox_env: dict[str, str],
    celery_env: dict[str, str],
    database: Engine,
    runs: Path,
    worker: WorkerFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Events reach only the event transport; tasks only the worker, once each."""
    monkeypatch.setenv("SPAKKY_DISPATCH_OUTBOX__RELAY", "thread")
    monkeypatch.setenv("SPAKKY_OUTBOX__POLLING_INTERVAL_SECONDS", "0.1")
    app = SpakkyApplication(ApplicationContext()).load_plugins(
        include={*shop.BASE_PLUGINS, spakky.plugins.celery.PLUGIN_NAME}
    )
    for pod in (MailTasks, shop.ClaimsRoleChecker, PlaceWithEvent):
        app.add(pod)
    app.start()
    events = RecordingEventTransport()
    event_relay = OutboxRelayBackgroundService(
        app.container.get(PlaceWithEvent).events, events, OutboxConfig()
    )
    event_relay.set_stop_event(threading.Event())
    try:
        event_relay.start()
        with worker("tests.outbox.apps.shop:celery", "-P", "solo"):
            task_ids = [
                app.container.get(PlaceWithEvent).place(f"N-{n}") for n in range(5)
            ]
            lines = wait_runs(runs, 5)
            deadline = time.monotonic() + 30
            while len(events.sent) < 5 and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(1)  # both relays keep polling; nothing more may move
    finally:
        event_relay.stop()
        app.stop()
    assert sorted(events.sent) == [("OrderPlaced", f"N-{n}".encode()) for n in range(5)]
    assert sorted(line["task_id"] for line in lines) == sorted(task_ids)
    assert len(lines) == 5
    with database.connect() as connection:
        event_rows = connection.execute(
            text("SELECT event_name, published_at FROM spakky_event_outbox")
        ).all()
    assert sorted(name for name, _ in event_rows) == ["OrderPlaced"] * 5
    assert all(published for _, published in event_rows)
    assert [row["event_name"].rsplit(".", 1)[-1] for row in outbox_rows(database)] == [
        "confirm"
    ] * 5
