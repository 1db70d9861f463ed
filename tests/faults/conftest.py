"""Fixtures of the fault-injection suite and its summary line.

Faults that stop, kill or freeze a broker use private brokers (``servers.py``)
started by the test on free loopback ports; the shared Redis (6379) and
RabbitMQ (5672) only ever see non-destructive traffic on queues of their own.
"""

import os
import shutil
import signal
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from spakky.plugins.cryptography import Key

from tests.faults.ledger import HOLD_VARIABLE, LEDGER_VARIABLE, Ledger
from tests.faults.report import REPORT, FaultReport
from tests.faults.servers import SECRET, RabbitNode, RedisServer
from tests.support.brokers import require
from tests.support.worker import WorkerProcess, celery_process

type FaultWorker = Callable[..., AbstractContextManager[WorkerProcess]]

FAST_DISPATCH = {
    # Bounded, quick failures: the defaults are larger for production.
    "SPAKKY_CELERY__BROKER_CONNECTION_TIMEOUT": "2",
    "SPAKKY_CELERY__BROKER_SOCKET_TIMEOUT": "2",
    "SPAKKY_CELERY__RESULT_BACKEND_TIMEOUT": "2",
    "SPAKKY_CELERY__RESULT_BACKEND_MAX_RETRIES": "1",
}


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the fault-injection summary when fault tests ran."""
    if REPORT.injected:
        terminalreporter.write_sep("=", "fault injection")
        terminalreporter.write_line(REPORT.line())
        for figure in REPORT.figures:
            terminalreporter.write_line(figure)
        if REPORT.lost_jobs:
            terminalreporter.write_line(f"lost tasks: {', '.join(REPORT.lost_jobs)}")


@pytest.fixture(scope="session")
def fault_report() -> FaultReport:
    """The session's tally that fault tests record into."""
    return REPORT


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    """The ledger this test's worker tasks write to."""
    return Ledger(tmp_path / "ledger.txt")


@pytest.fixture
def hold_file(tmp_path: Path) -> Path:
    """While this file exists, ``hold`` tasks wait."""
    return tmp_path / "hold"


@pytest.fixture
def fault_env(
    ledger: Ledger, hold_file: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """Environment shared by this process and the test's workers.

    A queue of the test's own, the ledger, the hold file and bounded timeouts;
    tests add the broker. Every ``SPAKKY_CELERY__*`` variable of the outer
    shell is removed first so only what the test sets applies.
    """
    for name in list(os.environ):
        if name.upper().startswith("SPAKKY_CELERY__"):
            monkeypatch.delenv(name)
    env = {
        **FAST_DISPATCH,
        "SPAKKY_CRYPTOGRAPHY_SNAPSHOT_KEY": Key(size=32).b64_urlsafe,
        "SPAKKY_AUTH_SNAPSHOT_PROPAGATION_ENABLED": "false",
        "SPAKKY_CELERY__DEFAULT_QUEUE": f"spakky-fault-{uuid.uuid4().hex[:12]}",
        LEDGER_VARIABLE: str(ledger.path),
        HOLD_VARIABLE: str(hold_file),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def use_env(
    fault_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., dict[str, str]]:
    """Add variables to ``fault_env`` here and for workers started afterwards."""

    def add(**variables: str) -> dict[str, str]:
        for name, value in variables.items():
            fault_env[name] = value
            monkeypatch.setenv(name, value)
        return fault_env

    return add


@pytest.fixture
def fault_worker(fault_env: dict[str, str], tmp_path: Path) -> FaultWorker:
    """Start ``celery worker`` processes with ``fault_env``; ended after the block.

    A worker is killed when its block ends: the test has read what it needed,
    and a warm stop of an idle worker on RabbitMQ waits about ten seconds for
    Celery's event loop to wake up, which would double the suite's run time.
    """
    counter = iter(range(1000))

    @contextmanager
    def start(
        target: str,
        *args: str,
        env: dict[str, str] | None = None,
        ready: str | None = "ready.",
    ) -> Iterator[WorkerProcess]:
        with celery_process(
            target,
            {**fault_env, **(env or {})},
            tmp_path / f"worker-{next(counter)}.log",
            args=args,
            ready=ready,
        ) as worker:
            try:
                yield worker
            finally:
                if worker.process.poll() is None:
                    os.killpg(worker.process.pid, signal.SIGKILL)
                    worker.process.wait(timeout=30)

    return start


def _require_binary(name: str, available: bool) -> None:
    """Skip without ``name``, except under ``CI=true`` where it fails."""
    if available:
        return
    message = f"{name} is not installed"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}; CI must install it")
    pytest.skip(message)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A running redis-server of this test only, with a password and durable AOF."""
    _require_binary("redis-server", shutil.which("redis-server") is not None)
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def _rabbit_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitNode]:
    _require_binary("rabbitmq-server", RabbitNode.available())
    node = RabbitNode(tmp_path_factory.mktemp("rabbitmq"))
    node.start()
    try:
        yield node
    finally:
        node.close()


@pytest.fixture
def private_rabbitmq(_rabbit_node: RabbitNode) -> RabbitNode:
    """A private RabbitMQ node (one per session), running when the test starts."""
    _rabbit_node.thaw()
    if _rabbit_node.process is None or _rabbit_node.process.poll() is not None:
        _rabbit_node.start()
    return _rabbit_node


@pytest.fixture
def shared_redis() -> str:
    """URL prefix of the shared Redis, for non-destructive traffic only."""
    require("127.0.0.1", 6379, "Redis")
    return "redis://127.0.0.1:6379"


@pytest.fixture
def shared_rabbitmq() -> str:
    """URL of the shared RabbitMQ, for non-destructive traffic only."""
    require("127.0.0.1", 5672, "RabbitMQ")
    return "amqp://guest:guest@127.0.0.1:5672//"


def assert_no_secret(*texts: str) -> None:
    """No text we produced or logged contains the private brokers' password."""
    for text in texts:
        assert SECRET not in text, f"password leaked in:\n{text[-2000:]}"
