"""Place two orders: one commits and its e-mail is sent, one rolls back and sends nothing.

``python -m uv run --directory examples python -m transactional_orders``

Everything is embedded by default, in a temporary folder removed at the end:
the database is SQLite (``SPAKKY_SQLALCHEMY__CONNECTION_STRING`` to use
PostgreSQL), the broker is SQLite through kombu's SQLAlchemy transport
(``SPAKKY_CELERY__BROKER_URL`` for Redis or RabbitMQ). This process plays the
web application and runs the relay; a worker process sends the e-mails.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TIMEOUT = 60.0


def main() -> int:
    """Start a worker, place the orders, show what was sent, stop the worker."""
    with tempfile.TemporaryDirectory(prefix="spakky-transactional-") as folder:
        work = Path(folder)
        os.environ.update(_environment(work))
        _create_tables()
        worker = _start_worker(work)
        try:
            _wait_for(work / "worker.log", "ready.", worker)
            _demo(work)
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
    print("stopped the worker and removed the temporary database and broker")
    return 0


def _environment(work: Path) -> dict[str, str]:
    from transactional_orders.shop import MAILBOX

    env = {
        MAILBOX: str(work / "mailbox.jsonl"),
        "SPAKKY_DATA__SUPPORT_ASYNC_MODE": "false",  # SQLite: no async driver here
        "SPAKKY_DISPATCH_OUTBOX__POLL_INTERVAL": "0.5",
    }
    defaults = {
        "SPAKKY_SQLALCHEMY__CONNECTION_STRING": f"sqlite:///{work / 'shop.sqlite'}",
        "SPAKKY_CELERY__BROKER_URL": f"sqla+sqlite:///{work / 'broker.sqlite'}",
        "SPAKKY_CELERY__RESULT_BACKEND": f"db+sqlite:///{work / 'results.sqlite'}",
        "SPAKKY_CELERY__DEFAULT_QUEUE": f"transactional-{os.getpid()}",
    }
    for name, value in defaults.items():
        env[name] = os.environ.get(name) or value
    return env


def _create_tables() -> None:
    """The example's tables: orders and the task outbox (use migrations in real life)."""
    from spakky.plugins.sqlalchemy.orm.table import AbstractTable
    from sqlalchemy import create_engine

    from spakky.dispatch.outbox.sqlalchemy import TaskOutboxTable
    from transactional_orders.shop import OrderTable

    engine = create_engine(os.environ["SPAKKY_SQLALCHEMY__CONNECTION_STRING"])
    tables = [OrderTable.__table__, TaskOutboxTable.__table__]
    AbstractTable.metadata.create_all(engine, tables=tables)  # type: ignore[arg-type]
    engine.dispose()


def _start_worker(work: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "transactional_orders.application:celery",
        "worker",
        "--pool",
        "solo",
        "--loglevel",
        "INFO",
        "--without-heartbeat",
        "--without-mingle",
        "--without-gossip",
    ]
    log = (work / "worker.log").open("wb")
    return subprocess.Popen(
        command,
        cwd=HERE.parent,
        # The worker only runs tasks: the relay runs in this process.
        env={
            **os.environ,
            "PYTHONPATH": str(HERE.parent),
            "SPAKKY_DISPATCH_OUTBOX__RELAY": "off",
        },
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def _wait_for(log: Path, text: str, worker: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        if worker.poll() is not None:
            raise SystemExit(f"the worker stopped:\n{log.read_text(errors='replace')}")
        time.sleep(0.2)
    raise SystemExit(f"the worker did not start in {TIMEOUT:.0f}s")


def _demo(work: Path) -> None:
    from sqlalchemy import create_engine, text

    from transactional_orders.application import build_app
    from transactional_orders.shop import OutOfStockError, PlaceOrder

    app = build_app()
    try:
        place = app.container.get(PlaceOrder)
        confirmation = place.place("A-1001", "ada@example.com", 4_250)
        print(f"placed A-1001; its e-mail is task {confirmation.task_id}")
        print(f"came back: {confirmation.get(timeout=TIMEOUT)!r}")  # type: ignore[call-arg]
        try:
            place.place("A-1002", "bob@example.com", 250_000)
        except OutOfStockError:
            print("A-1002 is out of stock: the transaction rolled back")
        time.sleep(2)  # four relay polls: a task of A-1002 would be sent by now
    finally:
        app.stop()
    engine = create_engine(os.environ["SPAKKY_SQLALCHEMY__CONNECTION_STRING"])
    with engine.connect() as connection:
        orders = [row[0] for row in connection.execute(text("SELECT id FROM orders"))]
        outbox = connection.execute(
            text("SELECT count(*), count(published_at) FROM spakky_task_outbox")
        ).one()
    engine.dispose()
    mailbox = work / "mailbox.jsonl"
    mails = [json.loads(line) for line in mailbox.read_text().splitlines()]
    print(f"orders in the database: {orders}")
    print(f"task outbox: {outbox[0]} stored, {outbox[1]} published")
    for mail in mails:
        print(
            f"mailbox: confirmation of {mail['order']} to {mail['to']} "
            f"(worker pid {mail['worker_pid']})"
        )
    print(f"e-mails sent: {len(mails)}")


if __name__ == "__main__":
    raise SystemExit(main())
