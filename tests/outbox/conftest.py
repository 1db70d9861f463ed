"""Fixtures of the transactional-dispatch tests: a PostgreSQL schema per test.

Each test gets a schema of its own in the test database (``.ci/postgres.sh``
creates it), holding the shop's orders, the task outbox and spakky-outbox's
event outbox; the connection string is set here and inherited by workers and
relay processes.
"""

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from spakky.plugins.cryptography import Key
from spakky.plugins.sqlalchemy.orm.table import AbstractTable
from spakky.plugins.sqlalchemy.outbox.table import OutboxMessageTable
from sqlalchemy import Engine, create_engine, text

from spakky.dispatch.outbox.sqlalchemy import TaskOutboxTable
from tests.outbox.apps.shop_handlers import OrderTable
from tests.support.postgres import (
    POSTGRES_URL,
    drop_schema,
    fresh_schema,
    require_postgres,
)
from tests.support.worker import WorkerProcess, spawn

type Spawner = Callable[..., AbstractContextManager[WorkerProcess]]


@pytest.fixture
def database(monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """An engine on a fresh schema with the shop's and both outboxes' tables."""
    require_postgres()
    schema = fresh_schema()
    url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    monkeypatch.setenv("SPAKKY_SQLALCHEMY__CONNECTION_STRING", url)
    engine = create_engine(url)
    tables = (OrderTable, TaskOutboxTable, OutboxMessageTable)
    AbstractTable.metadata.create_all(
        engine,
        tables=[table.__table__ for table in tables],  # type: ignore[misc]
    )
    try:
        yield engine
    finally:
        engine.dispose()
        drop_schema(schema)


@pytest.fixture
def runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The file task bodies append their runs to."""
    path = tmp_path / "runs.jsonl"
    monkeypatch.setenv("OUTBOX_E2E_RUNS", str(path))
    return path


@pytest.fixture
def outbox_env(
    database: Engine, runs: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """Quick relay settings and one snapshot key, here and in child processes.

    This process never relays (``RELAY=off``): tests start relay processes.
    """
    env = {
        "SPAKKY_DISPATCH_OUTBOX__RELAY": "off",
        "SPAKKY_DISPATCH_OUTBOX__POLL_INTERVAL": "0.2",
        "SPAKKY_DISPATCH_OUTBOX__CLAIM_TIMEOUT": "3",
        "SPAKKY_DISPATCH_OUTBOX__MAX_ATTEMPTS": "3",
        "SPAKKY_CRYPTOGRAPHY_SNAPSHOT_KEY": Key(size=32).b64_urlsafe,
        "SPAKKY_CELERY__BROKER_CONNECTION_TIMEOUT": "2",
        "SPAKKY_CELERY__PUBLISH_MAX_RETRIES": "1",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def relay(tmp_path: Path, outbox_env: dict[str, str]) -> Spawner:
    """``relay("celery"|"taskiq", **env)``: a relay process until the block ends."""
    counter = iter(range(1000))

    def start(transport: str = "celery", **env: str) -> Any:
        argv = [sys.executable, "-m", "tests.outbox.relay_process", transport]
        log = tmp_path / f"relay-{next(counter)}.log"
        env = {"SPAKKY_DISPATCH_OUTBOX__RELAY": "thread", **env}
        return spawn(argv, env, log, ready="relay ready")

    return start


def run_lines(path: Path) -> list[dict[str, Any]]:
    """Every run recorded so far."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def wait_runs(path: Path, count: int, timeout: float = 60.0) -> list[dict[str, Any]]:
    """Wait until ``count`` runs are recorded; all of them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = run_lines(path)
        if len(lines) >= count:
            return lines
        time.sleep(0.1)
    raise TimeoutError(f"{count} runs expected, saw {run_lines(path)}")


def outbox_rows(engine: Engine) -> list[dict[str, Any]]:
    """The task outbox, oldest first."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT event_name, partition_key, published_at, abandoned_at, "
                "retry_count, claimed_at, last_error, payload "
                "FROM spakky_task_outbox ORDER BY created_at, id"
            )
        ).mappings()
        return [dict(row) for row in rows]
