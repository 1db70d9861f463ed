"""The SQLAlchemy task outbox: joined to @Transactional, claims, keys, abandonment.

Runs on an SQLite file, and on PostgreSQL (also async) when it is reachable.
"""

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import spakky.data
import spakky.plugins.sqlalchemy
from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext
from spakky.core.pod.annotations.pod import Pod
from spakky.data.aspects.transactional import Transactional
from spakky.outbox.common.message import OutboxMessage
from sqlalchemy import create_engine, text

import spakky.dispatch.outbox
from spakky.dispatch.core.adapter import TaskMessage
from spakky.dispatch.outbox import ITaskOutbox, encode
from spakky.dispatch.outbox.sqlalchemy import create_task_outbox_table

START = datetime(2026, 3, 1, tzinfo=UTC)
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/" + os.environ.get(
    "SPAKKY_TEST_POSTGRES_DB", "spakky_dispatch_test"
)


class Refused(Exception):
    """Rolls a transaction back."""


@Pod()
class Saver:
    """Saves rows in a @Transactional method, as a use case would."""

    def __init__(self, outbox: ITaskOutbox) -> None:
        self.outbox = outbox
        self.inside: list[bool] = []

    @Transactional()
    def save(self, *rows: OutboxMessage, fail: bool = False) -> None:
        self.inside.append(self.outbox.in_transaction())
        for row in rows:
            self.outbox.storage().save(row)
        self.outbox.after_commit(lambda: self.inside.append(True))
        if fail:
            raise Refused

    @Transactional()
    async def save_async(self, *rows: OutboxMessage, fail: bool = False) -> None:
        self.inside.append(self.outbox.in_async_transaction())
        storage = self.outbox.async_storage()
        assert storage is not None
        for row in rows:
            await storage.save(row)
        self.outbox.after_commit(lambda: self.inside.append(True))
        if fail:
            raise Refused


def _postgres_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(params=["sqlite", "postgresql"])
def app(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SpakkyApplication]:
    """The outbox plugin on spakky-sqlalchemy, relay off, 1 s claim timeout."""
    if request.param == "sqlite":
        url, schema = f"sqlite:///{tmp_path / 'outbox.sqlite'}", None
        monkeypatch.setenv("SPAKKY_DATA__SUPPORT_ASYNC_MODE", "false")
    else:
        if not _postgres_up():
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail("PostgreSQL is not reachable; .ci/postgres.sh starts it")
            pytest.skip("PostgreSQL is not reachable")
        schema = f"u_{uuid.uuid4().hex[:10]}"
        with create_engine(POSTGRES).begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
        url = f"{POSTGRES}?options=-csearch_path%3D{schema}"
        monkeypatch.setenv("SPAKKY_DATA__SUPPORT_ASYNC_MODE", "true")
    monkeypatch.setenv("SPAKKY_SQLALCHEMY__CONNECTION_STRING", url)
    monkeypatch.setenv("SPAKKY_DISPATCH_OUTBOX__RELAY", "off")
    monkeypatch.setenv("SPAKKY_DISPATCH_OUTBOX__CLAIM_TIMEOUT", "1")
    engine = create_engine(url)
    create_task_outbox_table(engine)
    create_task_outbox_table(engine)  # a second time changes nothing
    engine.dispose()
    application = (
        SpakkyApplication(ApplicationContext())
        .load_plugins(
            include={
                spakky.data.PLUGIN_NAME,
                spakky.plugins.sqlalchemy.PLUGIN_NAME,
                spakky.dispatch.outbox.PLUGIN_NAME,
            }
        )
        .add(Saver)
        .start()
    )
    try:
        yield application
    finally:
        application.stop()
        if schema is not None:
            with create_engine(POSTGRES).begin() as connection:
                connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))


def _row(order: str, key: str | None = None, offset: int = 0) -> OutboxMessage:
    message = TaskMessage(task_name="shop.Mail.confirm", args=(order,), task_id=order)
    return encode(message, partition_key=key, now=START + timedelta(seconds=offset))


def _orders(rows: list[OutboxMessage]) -> list[str]:
    return [row.payload.decode().split('"args":["')[1].split('"')[0] for row in rows]


def test_sqlalchemy_outbox_commit_and_rollback_expect_only_committed_rows(
    app: SpakkyApplication,
) -> None:
    """Saved in the transaction: kept on commit, gone on rollback; commit callback once."""
    saver = app.container.get(Saver)
    outbox = app.container.get(ITaskOutbox)
    assert outbox.in_transaction() is False
    saver.save(_row("A"))
    with pytest.raises(Refused):
        saver.save(_row("B"), fail=True)
    assert saver.inside == [True, True, True]  # in tx, committed, in tx (no commit)
    storage = outbox.storage()
    assert _orders(storage.fetch_pending(10, 3)) == ["A"]


def test_sqlalchemy_outbox_claim_expect_exclusive_until_timeout_or_release(
    app: SpakkyApplication,
) -> None:
    """A claim hides the row from other claims; release or the timeout returns it."""
    app.container.get(Saver).save(_row("A"), _row("B", offset=1))
    storage = app.container.get(ITaskOutbox).storage()
    first = storage.fetch_pending(10, 3)
    assert _orders(first) == ["A", "B"]
    assert storage.fetch_pending(10, 3) == []
    storage.release([first[0].id])
    assert _orders(storage.fetch_pending(10, 3)) == ["A"]
    time.sleep(1.1)
    assert _orders(storage.fetch_pending(10, 3)) == ["A", "B"]


def test_sqlalchemy_outbox_partition_key_expect_claimed_whole_in_order(
    app: SpakkyApplication,
) -> None:
    """A key's later row waits while its head is claimed or not claimable."""
    saver = app.container.get(Saver)
    saver.save(_row("K1", "k"), _row("K2", "k", 1), _row("free", None, 2))
    storage = app.container.get(ITaskOutbox).storage()
    [head] = storage.fetch_pending(1, 3)
    assert _orders([head]) == ["K1"]
    assert _orders(storage.fetch_pending(10, 3)) == ["free"]  # K2 waits behind K1
    storage.increment_retry(head.id)
    storage.increment_retry(head.id)
    storage.increment_retry(head.id)  # K1 out of attempts, not abandoned yet
    assert storage.fetch_pending(10, 3) == []  # K2 still waits for its head
    storage.mark_abandoned(head.id)
    assert _orders(storage.fetch_pending(10, 3)) == ["K2"]


def test_sqlalchemy_outbox_refusals_expect_abandoned_rows_readable(
    app: SpakkyApplication,
) -> None:
    """Counted attempts, the reason and the abandonment are kept for the operator."""
    app.container.get(Saver).save(_row("A"), _row("B", offset=1))
    storage = app.container.get(ITaskOutbox).storage()
    a, b = storage.fetch_pending(10, 3)
    storage.increment_retry(a.id)
    storage.note_failure(a.id, "BrokerRejectedError: queue full")
    storage.mark_abandoned(a.id)
    storage.mark_published(b.id)
    [abandoned] = storage.abandoned()
    assert abandoned.message.id == a.id
    assert abandoned.message.retry_count == 1
    assert abandoned.last_error == "BrokerRejectedError: queue full"
    assert abandoned.abandoned_at is not None
    assert storage.fetch_pending(10, 3) == []


@pytest.mark.parametrize("app", ["postgresql"], indirect=True)
def test_sqlalchemy_outbox_async_expect_same_contract(app: SpakkyApplication) -> None:
    """The async storage joins the async transaction and claims like the sync one."""
    outbox = app.container.get(ITaskOutbox)
    storage = outbox.async_storage()
    assert storage is not None
    saver = app.container.get(Saver)
    assert outbox.in_async_transaction() is False

    async def scenario() -> list[str]:
        await saver.save_async(_row("A"), _row("K1", "k", 1), _row("K2", "k", 2))
        with pytest.raises(Refused):
            await saver.save_async(_row("B"), fail=True)
        first = await storage.fetch_pending(2, 3)
        assert _orders(first) == ["A", "K1"]
        assert await storage.fetch_pending(10, 3) == []  # K2 waits behind K1
        await storage.note_failure(first[1].id, "refused")
        await storage.increment_retry(first[1].id)
        await storage.mark_published(first[0].id)
        await storage.release([first[1].id])
        again = await storage.fetch_pending(10, 3)
        await storage.mark_abandoned(again[0].id)
        return _orders(again) + _orders(await storage.fetch_pending(10, 3))

    assert asyncio.run(scenario()) == ["K1", "K2"]
    assert saver.inside == [True, True, True]
    [abandoned] = outbox.storage().abandoned()
    assert abandoned.last_error == "refused"


def test_sqlalchemy_outbox_without_spakky_sqlalchemy_expect_not_configured() -> None:
    """Built without spakky-sqlalchemy's session manager: says which plugin to load."""
    from spakky.dispatch.outbox import TaskOutboxConfig, TaskOutboxNotConfiguredError
    from spakky.dispatch.outbox.sqlalchemy import SqlAlchemyTaskOutbox

    with pytest.raises(TaskOutboxNotConfiguredError, match="spakky-sqlalchemy"):
        SqlAlchemyTaskOutbox(TaskOutboxConfig())


def test_sqlalchemy_outbox_outside_transaction_expect_no_commit_callback(
    app: SpakkyApplication,
) -> None:
    """With no transaction active there is nothing to wait for: no callback runs."""
    outbox = app.container.get(ITaskOutbox)
    called: list[bool] = []
    outbox.after_commit(lambda: called.append(True))
    assert called == []
    assert outbox.in_async_transaction() is False
