"""Run the order service demo: a real worker with beat, a few requests, what happened.

``python -m uv run --directory examples python -m orders``

This process plays the web application: it starts one worker process (the
``spakky-celery worker`` command, with beat), then makes a few requests as
different users and prints what the worker did: the e-mails, the carrier API
calls and the retries they caused, the report, the refunds it refused. The
worker and this process share the stand-in services' files (see
``orders.stubs``) and read the same environment.

Without ``SPAKKY_CELERY__BROKER_URL`` it uses an embedded broker: SQLite through
kombu's SQLAlchemy transport, results in SQLite too, in a temporary folder that
is removed at the end. Set the variable (and ``SPAKKY_CELERY__RESULT_BACKEND``)
to run the same thing on Redis or RabbitMQ. Set ``SPAKKY_EXAMPLE_DATA`` to a
folder to keep the files (journal, orders, worker log) after the run.
"""

import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from celery import Celery
from spakky.auth import AuthContext, AuthSubject
from spakky.core.application.application import SpakkyApplication
from spakky.plugins.cryptography import Key

from orders.application import build_app
from orders.handlers import ReportHandler
from orders.middleware import request_scope
from orders.service import OrderService
from orders.stubs import DATA_VARIABLE, Journal, Order
from spakky.plugins.celery import (
    AbstractTaskAuthRefusedError,
    TaskDispatcher,
    masked_url,
)

HERE = Path(__file__).resolve().parent
TIMEOUT = 60.0
REPORT_TASK = "orders.handlers.ReportHandler.nightly_sales_report"

ISSUER = "https://login.orders.example"
CAROL = AuthContext(subject=AuthSubject(id="carol"), issuer=ISSUER, roles=("customer",))
FRANK = AuthContext(subject=AuthSubject(id="frank"), issuer=ISSUER, roles=("customer",))
DAVE = AuthContext(subject=AuthSubject(id="dave"), issuer=ISSUER, roles=("support",))
ERIN = AuthContext(
    subject=AuthSubject(id="erin"), issuer=ISSUER, roles=("support", "finance")
)


def main() -> int:
    """Start a worker, run the requests, print the outcome, stop the worker."""
    kept = os.environ.get(DATA_VARIABLE)
    with tempfile.TemporaryDirectory(prefix="spakky-orders-") as scratch:
        data = Path(kept or scratch)
        data.mkdir(parents=True, exist_ok=True)
        os.environ.update(_environment(data))
        worker = _start_worker(data)
        try:
            _wait_until_ready(data / "worker.log", worker)
            _demo(data / "worker.log", worker.pid)
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
    print(f"stopped the worker; files {'kept in ' + kept if kept else 'removed'}")
    return 0


def _environment(data: Path) -> dict[str, str]:
    """What this process and the worker both need; values already set win."""
    env = {
        DATA_VARIABLE: str(data),
        # Sign the caller's identity into every task message.
        "SPAKKY_AUTH_SNAPSHOT_PROPAGATION_ENABLED": "true",
    }
    if not os.environ.get("SPAKKY_CRYPTOGRAPHY_SNAPSHOT_KEY"):
        # One signing key for this run, shared with the worker. In production
        # it comes from your secret store, the same in every process.
        env["SPAKKY_CRYPTOGRAPHY_SNAPSHOT_KEY"] = Key(size=32).b64_urlsafe
    if not os.environ.get("SPAKKY_CELERY__BROKER_URL"):
        env["SPAKKY_CELERY__BROKER_URL"] = f"sqla+sqlite:///{data / 'broker.sqlite'}"
        env["SPAKKY_CELERY__RESULT_BACKEND"] = f"db+sqlite:///{data / 'results.sqlite'}"
    if not os.environ.get("SPAKKY_CELERY__DEFAULT_QUEUE"):
        env["SPAKKY_CELERY__DEFAULT_QUEUE"] = f"orders-{os.getpid()}"
    return env


def _start_worker(data: Path) -> subprocess.Popen[bytes]:
    """``spakky-celery worker orders.application:build_app`` with embedded beat."""
    command = [
        sys.executable,
        "-m",
        "spakky.plugins.celery.cli",
        "worker",
        "orders.application:build_app",
        "--pool",
        "solo",
        "--beat",
        "--schedule",
        str(data / "beat-schedule"),
        "--hostname",
        f"orders-{os.getpid()}@%h",
        "--loglevel",
        "INFO",
        "--without-heartbeat",
        "--without-mingle",
        "--without-gossip",
    ]
    log = (data / "worker.log").open("wb")
    return subprocess.Popen(
        command,
        cwd=HERE.parent,
        env={**os.environ, "PYTHONPATH": str(HERE.parent)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def _wait_until_ready(log: Path, worker: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if log.exists() and "ready." in log.read_text(errors="replace"):
            return
        if worker.poll() is not None:
            raise SystemExit(f"the worker stopped:\n{log.read_text(errors='replace')}")
        time.sleep(0.2)
    raise SystemExit(f"the worker did not start in {TIMEOUT:.0f}s")


def _demo(log: Path, worker_pid: int) -> None:
    app = build_app()  # this process's application: the "web" side
    try:
        celery = app.container.get(Celery)
        print(f"broker: {masked_url(celery.conf.broker_url)}")
        print(f"web process pid {os.getpid()}, worker pid {worker_pid}")
        orders = _place_orders(app, log)
        _report(app)
        _refunds(app, orders[0])
    finally:
        app.stop()


def _place_orders(app: SpakkyApplication, log: Path) -> list[Order]:
    """Two customers order; e-mail and shipping run on the worker, in their trace."""
    print("\n== orders: confirmation e-mail and carrier booking in the background")
    service = app.container.get(OrderService)
    journal = app.container.get(Journal)
    placed = []
    for customer, total_cents in ((CAROL, 5980), (FRANK, 2990)):
        email = f"{customer.subject.id}@example.com"
        with request_scope(app, customer) as trace:
            order = service.place_order(email, "1 Main St, Springfield", total_cents)
        print(
            f"{customer.subject.id} placed order {order.order.order_id} "
            f"in request trace {trace.trace_id}"
        )
        placed.append((order, trace.trace_id))

    for order, trace_id in placed:
        order_id = order.order.order_id
        message_id = order.confirmation.get(timeout=TIMEOUT)
        mail = _one(journal.entries("mail"), message_id=message_id)
        print(f"  order {order_id}:")
        print(
            f"    e-mail {mail['subject']!r} to {mail['to']}: worker pid {mail['pid']}, "
            f"trace {mail['trace_id']} (same as the request: {mail['trace_id'] == trace_id})"
        )
        print(f"    worker log: {_log_line(log, f'order {order_id}: confirmation')}")
        tracking = order.shipment.get(timeout=TIMEOUT)
        calls = [c for c in journal.entries("carrier") if c["order_id"] == order_id]
        for number, call in enumerate(calls, start=1):
            print(
                f"    carrier API call {number}: {call['event']}, trace {call['trace_id']}"
            )
        for line in _retries(log, order.shipment.task_id):
            print(f"    worker log: {line}")
        print(f"    booking came back: {tracking!r}")
    return [order.order for order, _ in placed]


def _report(app: SpakkyApplication) -> None:
    """The nightly report is a beat entry, and a task that can be sent now."""
    print("\n== nightly sales report: scheduled, and triggered on demand")
    entry = app.container.get(Celery).conf.beat_schedule[REPORT_TASK]
    print(f"beat entry: {REPORT_TASK} {entry['schedule']}")
    today = date.today().isoformat()
    reports = app.container.get(ReportHandler)
    send = app.container.get(TaskDispatcher).send
    result = send(reports.nightly_sales_report, today)
    print(f"sent nightly_sales_report({today!r}) -> task {result.task_id}")
    print(f"came back: {result.get(timeout=TIMEOUT)!r}")
    subject = f"Sales report {today}"
    mail = _one(app.container.get(Journal).entries("mail"), subject=subject)
    print(f"e-mail {mail['subject']!r} to {mail['to']}: {mail['body']!r}")


def _refunds(app: SpakkyApplication, order: Order) -> None:
    """Only a caller with the finance role may refund; the worker enforces it."""
    print("\n== refunds: @require_role('finance'), checked on the worker")
    service = app.container.get(OrderService)
    for caller in (DAVE, None, ERIN):
        who = (
            "no login"
            if caller is None
            else f"{caller.subject.id} {list(caller.roles)}"
        )
        with request_scope(app, caller):
            result = service.refund(order.order_id, 1000)
        try:
            refund_id = result.get(timeout=TIMEOUT)
        except AbstractTaskAuthRefusedError as refused:
            decision = refused.decision
            print(
                f"refund asked by {who}: refused on the worker with "
                f"{type(refused).__name__} ({decision.state.name}, "
                f"{decision.reason_code.value})"
            )
        else:
            print(f"refund asked by {who}: done, {refund_id}")
    refunds = app.container.get(Journal).entries("payments")
    approvers = [entry["approved_by"] for entry in refunds]
    print(f"payment gateway: {len(refunds)} refund(s), approved by {approvers}")


def _one(entries: list[dict[str, Any]], **match: object) -> dict[str, Any]:
    found = [e for e in entries if all(e.get(k) == v for k, v in match.items())]
    if len(found) != 1:
        raise SystemExit(f"expected one journal entry with {match}, found {found}")
    return found[0]


def _log_line(log: Path, text: str) -> str:
    """The first worker log line containing ``text``, from the message on."""
    for line in log.read_text(errors="replace").splitlines():
        if text in line:
            return line[line.index(text) :]
    return f"(no line with {text!r} yet)"


def _retries(log: Path, task_id: str) -> list[str]:
    """Celery's ``retry:`` lines for one task, from ``retry:`` on."""
    marker = f"[{task_id}] retry: "
    return [
        "retry: " + line.split(marker, 1)[1]
        for line in log.read_text(errors="replace").splitlines()
        if marker in line
    ]


if __name__ == "__main__":
    raise SystemExit(main())
