"""The order service example (``python -m orders``), pointed at each real broker.

The example runs as its docs say, as a subprocess that starts its own worker
process. ``SPAKKY_EXAMPLE_DATA`` keeps its files, so besides what it prints the
test reads what the stand-in services recorded (``journal.jsonl``), the orders
table (``orders.jsonl``) and the worker's log, and checks each against the
others. The orders table is seeded with an earlier order of today and one of
yesterday, of random amounts, so the report must really read and filter it.
"""

import json
import os
import random
import re
import signal
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.brokers import Broker

pytestmark = pytest.mark.broker

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
TIMEOUT = 240


def _run_example(env: dict[str, str]) -> tuple[int, str]:
    """``python -m orders`` from ``examples/``; returns its exit code and output.

    It runs in a session of its own, so that on a timeout the example and the
    worker it started are stopped together.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "orders"],
        cwd=EXAMPLES,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"the example did not finish in {TIMEOUT}s:\n{output}")
    return process.returncode, output


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _seed(data: Path) -> dict[str, Any]:
    """Write an order of today and one of yesterday; return today's."""
    today = date.today()
    seeded = [
        {
            "order_id": f"A-SEED{number}",
            "email": "earlier@example.com",
            "address": "2 Side St",
            "total_cents": random.randint(100, 99_999),
            "day": day.isoformat(),
        }
        for number, day in enumerate((today, today - timedelta(days=1)))
    ]
    data.mkdir()
    lines = "".join(json.dumps(order) + "\n" for order in seeded)
    (data / "orders.jsonl").write_text(lines)
    return seeded[0]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_orders_example_on_real_broker_expect_every_outcome(
    broker: Broker, celery_env: dict[str, str], tmp_path: Path
) -> None:
    """E-mails, retried carrier calls, the report and refunds, in the right traces."""
    data = tmp_path / "data"
    env = {
        **os.environ,
        **celery_env,
        "PYTHONPATH": str(EXAMPLES),
        "SPAKKY_EXAMPLE_DATA": str(data),
    }
    env.pop("SPAKKY_CRYPTOGRAPHY_SNAPSHOT_KEY", None)  # the example makes one
    earlier = _seed(data)
    code, output = _run_example(env)
    assert code == 0, output

    assert f"broker: {broker.url.split('://')[0]}://" in output
    assert "guest:guest" not in output
    pids = re.search(r"web process pid (\d+), worker pid (\d+)", output)
    assert pids is not None, output
    web_pid, worker_pid = int(pids[1]), int(pids[2])
    assert web_pid != worker_pid
    assert not _alive(worker_pid), "the example left its worker running"
    assert "stopped the worker" in output

    rows = _rows(data / "orders.jsonl")
    orders = {row["order_id"]: row for row in rows if row["order_id"][:6] != "A-SEED"}
    journal = _rows(data / "journal.jsonl")
    log = (data / "worker.log").read_text(errors="replace")
    traces = dict(re.findall(r"placed order (A-\w+) in request trace (\w+)", output))
    assert len(orders) == 2
    assert set(traces) == set(orders), output
    assert len(set(traces.values())) == 2, "each request has a trace of its own"

    for order_id, trace_id in traces.items():
        assert re.fullmatch(r"[0-9a-f]{32}", trace_id)
        order = orders[order_id]

        # (a) + (d): the worker sent the confirmation, in the request's trace.
        mails = [
            entry
            for entry in journal
            if entry["service"] == "mail"
            and entry["subject"] == f"Order {order_id} confirmed"
        ]
        assert len(mails) == 1, journal
        mail = mails[0]
        assert mail["to"] == order["email"]
        assert mail["pid"] == worker_pid
        assert mail["trace_id"] == trace_id
        assert (
            f"order {order_id}: confirmation {mail['message_id']} sent to "
            f"{order['email']} in trace {trace_id}"
        ) in log

        # (b): the carrier failed, the worker retried, then it booked, same trace.
        calls = [
            entry
            for entry in journal
            if entry["service"] == "carrier" and entry["order_id"] == order_id
        ]
        events = [call["event"] for call in calls]
        failures = events[:-1]
        assert events[-1] == "booked", events
        assert failures, "the carrier never failed, so nothing was retried"
        assert set(failures) == {"503"}, events
        assert {call["trace_id"] for call in calls} == {trace_id}
        assert {call["pid"] for call in calls} == {worker_pid}
        retries = re.findall(
            r"ShippingHandler\.book_shipment\[[0-9a-f-]+\] retry: Retry in [\d.]+s: "
            rf"ShippingUnavailableError\('carrier API answered 503 for {order_id}'\)",
            log,
        )
        assert len(retries) == len(failures), log
        assert f"booking came back: '{calls[-1]['tracking']}'" in output

    # (c): the nightly report is scheduled, and ran on demand over today's
    # orders: the two placed by the example and the earlier one.
    day = earlier["day"]
    assert {order["day"] for order in orders.values()} == {day}
    revenue = earlier["total_cents"] + sum(o["total_cents"] for o in orders.values())
    assert re.search(
        r"beat entry: orders\.handlers\.ReportHandler\.nightly_sales_report "
        r"<crontab: 0 2 \* \* \*",
        output,
    ), output
    assert (
        f"came back: {{'day': '{day}', 'orders': 3, 'revenue_cents': {revenue}}}"
    ) in output
    reports = [
        entry
        for entry in journal
        if entry["service"] == "mail" and entry["subject"] == f"Sales report {day}"
    ]
    assert len(reports) == 1
    assert reports[0]["to"] == "finance@example.com"
    assert reports[0]["body"] == f"3 orders, revenue {revenue / 100:.2f} EUR."
    assert reports[0]["pid"] == worker_pid

    # (e): only the caller with the finance role got a refund; the others were
    # refused on the worker before the task's body ran.
    refunds = [entry for entry in journal if entry["service"] == "payments"]
    assert len(refunds) == 1, refunds
    assert refunds[0]["approved_by"] == "erin"
    assert refunds[0]["pid"] == worker_pid
    assert refunds[0]["order_id"] in orders
    assert (
        "refund asked by dave ['support']: refused on the worker with "
        "TaskAuthorizationDeniedError (DENY, INSUFFICIENT_ROLE)"
    ) in output
    assert (
        "refund asked by no login: refused on the worker with "
        "TaskAuthenticationRequiredError (CHALLENGE, SNAPSHOT_MISSING)"
    ) in output
    assert (
        f"refund asked by erin ['support', 'finance']: done, {refunds[0]['refund_id']}"
    ) in output
    assert "RefundHandler.refund: ROLE 'finance' was not allowed" in log
    assert "RefundHandler.refund: the message has no spakky.auth" in log
    assert "payment gateway: 1 refund(s), approved by ['erin']" in output
