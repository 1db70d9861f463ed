"""Broker faults on real worker processes: unreachable, frozen, restarted.

Each test stops, kills or freezes a private broker (``servers.py``) started on a
free loopback port; the shared brokers are never touched.
"""

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from spakky.dispatch.core import BrokerUnavailableError, PublishUnconfirmedError
from tests.faults.apps.reliable import build_app
from tests.faults.apps.reliable_handlers import LedgerHandler
from tests.faults.conftest import FaultWorker, assert_no_secret
from tests.faults.ledger import Ledger
from tests.faults.report import FaultReport
from tests.faults.servers import RabbitNode, RedisServer

pytestmark = pytest.mark.broker

TARGET = "tests.faults.apps.reliable:celery"
SOLO = ("-P", "solo")

type Server = RedisServer | RabbitNode


@pytest.fixture(params=["redis", "rabbitmq"])
def server(request: pytest.FixtureRequest) -> Server:
    """The private broker a test injects its fault into."""
    fixture = "private_redis" if request.param == "redis" else "private_rabbitmq"
    broker: Server = request.getfixturevalue(fixture)
    return broker


def _jobs(count: int, prefix: str) -> list[str]:
    run = uuid.uuid4().hex[:6]
    return [f"{prefix}-{run}-{index:03d}" for index in range(count)]


@dataclass
class Stream:
    """What a stream of dispatches observed while the broker restarted."""

    accepted: list[str] = field(default_factory=list)
    refused: list[tuple[str, BaseException]] = field(default_factory=list)
    attempts: list[tuple[str, float, float]] = field(default_factory=list)
    down_at: float = 0.0
    up_at: float = 0.0

    def attempted_while_down(self) -> list[str]:
        return [
            job
            for job, start, _ in self.attempts
            if self.down_at <= start <= self.up_at
        ]


def _stream_through_restart(
    handler: LedgerHandler, server: Server, jobs: list[str], gap: float
) -> Stream:
    """Dispatch ``jobs`` one by one; kill and restart the broker a third of the way."""
    stream = Stream()

    def restart() -> None:
        stream.down_at = time.monotonic()
        server.restart(down_for=1.5, crash=True)
        stream.up_at = time.monotonic()

    restarter = threading.Thread(target=restart)
    for index, job in enumerate(jobs):
        if index == len(jobs) // 3:
            restarter.start()
        started = time.monotonic()
        try:
            handler.record(job)
        except Exception as error:  # every refusal is examined by the test
            stream.refused.append((job, error))
        else:
            stream.accepted.append(job)
        stream.attempts.append((job, started, time.monotonic()))
        time.sleep(gap)
    restarter.join()
    return stream


@pytest.mark.timeout(240)
@pytest.mark.parametrize("retry", ["on", "off"])
def test_broker_restart_mid_stream_expect_every_dispatch_runs_or_raises(
    server: Server,
    use_env: Callable[..., dict[str, str]],
    fault_worker: FaultWorker,
    ledger: Ledger,
    fault_report: FaultReport,
    retry: str,
) -> None:
    """The broker is killed and restarted while tasks stream in: nothing is lost.

    Retry on: every dispatch returns and every task runs. Retry off: each
    dispatch either returns (and its task runs) or raises
    ``BrokerUnavailableError`` to its caller; no task silently disappears.
    """
    # Retries must outlast the outage: a private RabbitMQ node takes 12-16 s
    # to come back from a kill on an idle CI machine (more under load), so 60
    # retries 0.25 s apart (15 s) ran out now and then; 240 give 60 s.
    use_env(
        SPAKKY_CELERY__BROKER_URL=server.url(),
        SPAKKY_CELERY__PUBLISH_RETRY="true" if retry == "on" else "false",
        SPAKKY_CELERY__PUBLISH_MAX_RETRIES="240",
        SPAKKY_CELERY__PUBLISH_RETRY_INTERVAL="0.25",
    )
    application = build_app()
    handler: Any = application.container.get(LedgerHandler)  # returns handles
    jobs = _jobs(45, f"stream-{server.name}-{retry}")
    try:
        with fault_worker(TARGET, *SOLO) as worker:
            with fault_report.fault(f"{server.name} killed and restarted mid-stream"):
                stream = _stream_through_restart(handler, server, jobs, gap=0.05)
                completed = ledger.wait_for("done", stream.accepted, timeout=120)
                lost = fault_report.tasks(
                    stream.accepted, ledger.done(), refused=len(stream.refused)
                )
                assert lost == set(), f"lost: {sorted(lost)}"
                assert completed == set(stream.accepted)
                assert stream.attempted_while_down(), "the fault missed the stream"
                for job, error in stream.refused:
                    assert isinstance(error, BrokerUnavailableError), (job, error)
                    assert f"127.0.0.1:{server.port}" in str(error)
                    assert_no_secret(str(error))
                if retry == "on":
                    longest = max(end - start for _, start, end in stream.attempts)
                    fault_report.measure(
                        f"{server.name} restart (down {stream.up_at - stream.down_at:.1f} s),"
                        " longest dispatch with retry on",
                        longest,
                    )
                    assert stream.refused == []
                else:
                    assert stream.refused, (
                        "retry off: a dispatch during the outage raises"
                    )
                # "Not sent" means not sent: such a task never runs. (A dispatch
                # cut off mid-publish says it may have been sent, and may run.)
                not_sent = {
                    job
                    for job, error in stream.refused
                    if not isinstance(error, PublishUnconfirmedError)
                }
                assert not set(ledger.done()) & not_sent
            log = worker.log
    finally:
        application.stop()
    assert_no_secret(log)


def _dispatch_once(job: str) -> None:
    """Dispatch ``job`` from a short-lived application of its own."""
    application = build_app()
    try:
        application.container.get(LedgerHandler).record(job)
    finally:
        application.stop()


@pytest.mark.timeout(180)
@pytest.mark.parametrize("fault", ["stopped", "frozen"])
def test_dispatch_broker_unreachable_expect_bounded_error_naming_broker(
    server: Server,
    use_env: Callable[..., dict[str, str]],
    fault_worker: FaultWorker,
    ledger: Ledger,
    fault_report: FaultReport,
    fault: str,
) -> None:
    """A dispatch to a stopped or silent broker fails in bounded time, with our error.

    The error names the broker (password masked) and the reason. Stopped (the
    process is gone, connections are refused): the task never runs. Frozen
    (the process is suspended: connections open, nothing answers): the error
    says the message may have reached the broker, because it may have. The
    bound is what the configuration allows: (retries + 1) x (connect + socket
    timeout) plus the retry intervals, with slack for a busy machine. The
    worker reconnects by itself afterwards.
    """
    use_env(
        SPAKKY_CELERY__BROKER_URL=server.url(),
        SPAKKY_CELERY__BROKER_CONNECTION_TIMEOUT="1",
        SPAKKY_CELERY__BROKER_SOCKET_TIMEOUT="1",
        SPAKKY_CELERY__PUBLISH_MAX_RETRIES="1",
        SPAKKY_CELERY__PUBLISH_RETRY_INTERVAL="0.2",
    )
    bound = (1 + 1) * (1 + 1) + 1 * 0.2 + 10.0
    before, during, after = _jobs(3, f"unreachable-{server.name}-{fault}")
    with fault_worker(TARGET, *SOLO) as worker:
        _dispatch_once(before)
        assert ledger.wait_for("done", [before], timeout=60) == {before}
        with fault_report.fault(f"{server.name} {fault} at dispatch"):
            server.stop() if fault == "stopped" else server.freeze()
            application = build_app()
            try:
                # @task calls return result handles
                handler: Any = application.container.get(LedgerHandler)
                started = time.monotonic()
                with pytest.raises(BrokerUnavailableError) as raised:
                    handler.record(during)
                elapsed = time.monotonic() - started
                server.start() if fault == "stopped" else server.thaw()
                text = str(raised.value)
                assert elapsed < bound, f"{elapsed:.1f}s > {bound}s: {text}"
                assert f"127.0.0.1:{server.port}" in text
                assert ":**@" in text
                assert_no_secret(text)
                if fault == "stopped":
                    assert "refused" in text.lower()
                else:
                    assert isinstance(raised.value, PublishUnconfirmedError)
                    assert "may have reached" in text
                handler.record(after)
            finally:
                application.stop()
            assert ledger.wait_for("done", [after], timeout=90) == {after}
            if fault == "stopped":  # FIFO: a queued 'during' would have run first
                assert ledger.done()[during] == 0
            fault_report.tasks([before, after], ledger.done(), refused=1)
        log = worker.log
    assert_no_secret(log)
