"""Transactional dispatch against direct dispatch, on PostgreSQL and Redis.

- commit -> worker start: a row is written and a task dispatched in one
  ``@Transactional`` call (outbox; the relay runs in this process and the commit
  wakes it) against the same row committed and the task then dispatched
  directly; the latency is the task's start time minus the commit's end.
- relay throughput: N committed tasks relayed from the outbox to Redis by one
  relay, against the same N tasks published directly, in tasks per second.

Both sides use spakky-celery; the baseline is its direct dispatch, not raw
Celery. Rows are skipped when PostgreSQL or Redis is not reachable.
"""

import os
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import redis
from sqlalchemy import create_engine, text
from tests.support.worker import quiet_options, spawn

from benchmarks.celery.env import REDIS_URL
from benchmarks.harness.env import environment, reachable, unique
from benchmarks.harness.rows import Row
from benchmarks.harness.timing import Stat

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/" + os.environ.get(
    "SPAKKY_TEST_POSTGRES_DB", "spakky_dispatch_test"
)
OUTBOX_MISSING = "spakky-celery 8.5.0 has no transactional dispatch"


def outbox_rows(samples: int, tasks: int, repeat: int) -> list[Row]:
    """The latency and throughput rows, or none without PostgreSQL and Redis."""
    if not (reachable(POSTGRES) and reachable(REDIS_URL)):
        return []
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        with tempfile.TemporaryDirectory(prefix="spakky-bench-outbox-") as tmp:
            return _measure(schema, Path(tmp), samples, tasks, repeat)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def _measure(
    schema: str, tmp: Path, samples: int, tasks: int, repeat: int
) -> list[Row]:
    url = f"{POSTGRES}?options=-csearch_path%3D{schema}"
    key = unique("outbox-starts")
    env = {
        "SPAKKY_SQLALCHEMY__CONNECTION_STRING": url,
        "SPAKKY_CELERY__BROKER_URL": REDIS_URL,
        "SPAKKY_CELERY__DEFAULT_QUEUE": unique("outbox"),
        "SPAKKY_CELERY__RESULT_BACKEND": None,
        "SPAKKY_DISPATCH_OUTBOX__RELAY": "thread",
        "SPAKKY_DISPATCH_OUTBOX__POLL_INTERVAL": "1.0",
        "SPAKKY_DISPATCH_OUTBOX__BATCH_SIZE": "500",
        "BENCH_OUTBOX_KEY": key,
    }
    with environment(**env):
        from spakky.plugins.sqlalchemy.orm.table import AbstractTable

        from benchmarks.celery.outbox_app import BenchOrder, Place, build_app
        from spakky.dispatch.outbox.sqlalchemy import TaskOutboxTable

        engine = create_engine(url)
        tables = [BenchOrder.__table__, TaskOutboxTable.__table__]
        AbstractTable.metadata.create_all(engine, tables=tables)  # type: ignore[arg-type]
        engine.dispose()
        argv = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            f"{__package__}.outbox_app:celery",
        ]
        argv += ["worker", "--pool", "solo", *quiet_options("worker")]
        relay_off = {"SPAKKY_DISPATCH_OUTBOX__RELAY": "off"}  # the worker's
        client = redis.Redis.from_url(REDIS_URL)
        app = build_app()
        try:
            with spawn(argv, relay_off, tmp / "worker.log"):
                place = app.container.get(Place)
                _started(client, key, place, "warm-up", outbox=True)
                latency: dict[str, list[float]] = {"outbox": [], "direct": []}
                for n in range(samples * repeat):
                    for side in ("outbox", "direct") if n % 2 else ("direct", "outbox"):
                        sample = f"{side}-{n}"
                        latency[side].append(
                            _started(
                                client, key, place, sample, outbox=side == "outbox"
                            )
                        )
                throughput = _throughput(app, tasks, repeat)
        finally:
            app.stop()
            client.delete(key)
    return [
        Row.of(
            "outbox",
            "commit -> worker start, PostgreSQL + Redis",
            {"ours": Stat.of(latency["outbox"]), "raw": Stat.of(latency["direct"])},
            unit="ms",
            old_missing=OUTBOX_MISSING,
            target="raw = direct dispatch after commit",
            notes={"samples": len(latency["outbox"])},
        ),
        Row.of(
            "outbox",
            f"relay throughput, {tasks} tasks, PostgreSQL + Redis",
            {
                "ours": Stat.of(throughput["outbox"]),
                "raw": Stat.of(throughput["direct"]),
            },
            unit="tasks/s",
            old_missing=OUTBOX_MISSING,
            target="raw = direct dispatch",
            higher_is_better=True,
        ),
    ]


def _started(
    client: redis.Redis, key: str, place: object, sample: str, *, outbox: bool
) -> float:
    """Milliseconds from the end of the commit to the task's start on the worker."""
    if outbox:
        place.in_transaction(sample)  # type: ignore[attr-defined]
        committed = time.time()
    else:
        place.row_only(sample)  # type: ignore[attr-defined]
        committed = time.time()
        from benchmarks.celery.outbox_app import StartTimes

        place._tasks.started(sample)  # type: ignore[attr-defined]
        assert isinstance(place._tasks, StartTimes)  # type: ignore[attr-defined]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        value = client.hget(key, sample)
        if value is not None:
            return (float(value) - committed) * 1000
        time.sleep(0.0005)
    raise TimeoutError(f"task {sample} did not start within 60 s")


def _throughput(app: object, tasks: int, repeat: int) -> dict[str, list[float]]:
    """Tasks per second: relayed from a filled outbox, or published directly."""
    from datetime import UTC, datetime

    from benchmarks.harness.core_api import ITaskSender, TaskMessage
    from spakky.dispatch.outbox import ITaskOutbox, TaskOutboxConfig, encode
    from spakky.dispatch.outbox.services import TaskOutboxRelay
    from spakky.dispatch.outbox.wakeup import RelaySignal

    container = app.container  # type: ignore[attr-defined]
    container.get(TaskOutboxRelay).stop()  # the one relay measured is ours below
    outbox = container.get(ITaskOutbox)
    transport = container.get(ITaskSender)
    name = f"{__package__}.outbox_app.StartTimes.started"
    relay = TaskOutboxRelay(outbox, transport, TaskOutboxConfig(), RelaySignal())
    engine = create_engine(os.environ["SPAKKY_SQLALCHEMY__CONNECTION_STRING"])
    result: dict[str, list[float]] = {"outbox": [], "direct": []}
    for _ in range(repeat):
        rows = [
            encode(
                TaskMessage(
                    task_name=name,
                    args=(f"t-{uuid.uuid4().hex}",),
                    task_id=str(uuid.uuid4()),
                ),
                partition_key=None,
                now=datetime.now(UTC),
            )
            for _ in range(tasks)
        ]
        _insert(engine, rows)
        start = time.perf_counter()
        published = 0
        while published < tasks:
            published += len(relay.relay_once().published)
        result["outbox"].append(tasks / (time.perf_counter() - start))
        messages = [TaskMessage(task_name=name, args=(f"d-{n}",)) for n in range(tasks)]
        start = time.perf_counter()
        for message in messages:
            transport.send(message)
        result["direct"].append(tasks / (time.perf_counter() - start))
    engine.dispose()
    return result


def _insert(engine: object, rows: Sequence[object]) -> None:
    from sqlalchemy.orm import Session

    from spakky.dispatch.outbox.sqlalchemy.queries import to_row

    with Session(engine) as session, session.begin():  # type: ignore[arg-type]
        session.add_all([to_row(row) for row in rows])  # type: ignore[arg-type]
