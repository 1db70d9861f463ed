"""taskiq workers under attack and killed: real ``spakky-taskiq worker`` processes.

Parametrised over the taskiq brokers: Redis with the stream broker (the
default), Redis with the list broker, and RabbitMQ (a quorum queue). Messages go
to the shared brokers, each test on a queue of its own that it deletes; killing
a worker never touches a broker.
"""

import asyncio
import os
import signal
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import pytest
import redis

from spakky.dispatch.core import TaskNotRegisteredError
from spakky.dispatch.core.adapter import TaskMessage
from spakky.dispatch.taskiq import TaskiqTaskSender
from tests.faults.apps.reliable_handlers import LedgerHandler
from tests.faults.apps.reliable_taskiq import app as build_app
from tests.faults.conftest import assert_no_secret
from tests.faults.ledger import Ledger
from tests.faults.report import FaultReport
from tests.faults.taskiq_poison import CARD, FORGED, attacks
from tests.support.brokers import RABBITMQ, REDIS, require_broker
from tests.support.worker import WorkerProcess, spawn

pytestmark = pytest.mark.broker

TARGET = "tests.faults.apps.reliable_taskiq:app"
READY = "Listening started."


@dataclass(frozen=True, slots=True)
class TaskiqBroker:
    """A broker as a taskiq worker of the suite uses it."""

    name: str
    url: str
    backend_url: str
    settings: dict[str, str]

    @property
    def redis(self) -> bool:
        return self.url.startswith("redis")


BROKERS = {
    "redis-stream": TaskiqBroker("redis-stream", REDIS.url, REDIS.backend_url, {}),
    "redis-list": TaskiqBroker(
        "redis-list",
        REDIS.url,
        REDIS.backend_url,
        {"SPAKKY_TASKIQ__REDIS_BROKER": "list"},
    ),
    "rabbitmq": TaskiqBroker("rabbitmq", RABBITMQ.url, RABBITMQ.backend_url, {}),
}

type TaskiqWorker = Callable[..., AbstractContextManager[WorkerProcess]]


def _broker(request: pytest.FixtureRequest) -> TaskiqBroker:
    broker = BROKERS[request.param]
    require_broker(RABBITMQ if broker.name == "rabbitmq" else REDIS)
    return broker


@pytest.fixture
def queue(fault_env: dict[str, str]) -> str:
    """The test's own queue (the one the suite made for Celery, reused)."""
    return fault_env["SPAKKY_CELERY__DEFAULT_QUEUE"]


@pytest.fixture
def taskiq_env(
    queue: str, use_env: Callable[..., dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., dict[str, str]]:
    """``taskiq_env(broker, **settings)``: SPAKKY_TASKIQ__* here and for workers."""
    for name in list(os.environ):
        if name.upper().startswith("SPAKKY_TASKIQ__"):
            monkeypatch.delenv(name)

    def configure(broker: TaskiqBroker, **settings: str) -> dict[str, str]:
        return use_env(
            SPAKKY_TASKIQ__BROKER_URL=broker.url,
            SPAKKY_TASKIQ__RESULT_BACKEND=broker.backend_url,
            SPAKKY_TASKIQ__QUEUE=queue,
            **broker.settings,
            **{
                f"SPAKKY_TASKIQ__{name.upper()}": value
                for name, value in settings.items()
            },
        )

    return configure


@pytest.fixture
def taskiq_worker(fault_env: dict[str, str], tmp_path: Path) -> TaskiqWorker:
    """Start ``spakky-taskiq worker`` (one worker process); killed after the block."""
    counter = iter(range(1000))

    @contextmanager
    def start() -> Iterator[WorkerProcess]:
        argv = [sys.executable, "-m", "spakky.plugins.taskiq.cli", "worker", TARGET]
        argv += ["--workers", "1"]
        log = tmp_path / f"taskiq-worker-{next(counter)}.log"
        with spawn(argv, dict(fault_env), log, ready=READY) as worker:
            try:
                yield worker
            finally:
                _kill(worker)

    return start


@pytest.fixture
def cleanup(queue: str) -> Iterator[list[TaskiqBroker]]:
    """Brokers whose queue and dead letters of this test are deleted after it."""
    used: list[TaskiqBroker] = []
    yield used
    for broker in used:
        dead = f"{queue}.dead_letter"
        if broker.redis:
            redis.Redis.from_url(broker.url).delete(queue, dead)
        else:
            asyncio.run(_delete_queues(broker.url, queue, dead))


async def _delete_queues(url: str, *names: str) -> None:
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        for name in names:
            await channel.queue_delete(name)


def _kill(worker: WorkerProcess) -> None:
    """SIGKILL the worker's whole process group (no shutdown runs)."""
    if worker.process.poll() is None:
        os.killpg(worker.process.pid, signal.SIGKILL)
        worker.process.wait(timeout=30)


def _jobs(count: int, prefix: str) -> list[str]:
    run = uuid.uuid4().hex[:6]
    return [f"{prefix}-{run}-{index:03d}" for index in range(count)]


def _send_raw(broker: TaskiqBroker, queue: str, payloads: list[bytes]) -> None:
    """Put ``payloads`` on the queue as a foreign producer would."""
    if broker.redis:
        client = redis.Redis.from_url(broker.url)
        for data in payloads:
            if broker.name == "redis-list":
                client.lpush(queue, data)
            else:
                client.xadd(queue, {b"data": data})
        return
    asyncio.run(_publish(broker.url, queue, payloads))


async def _publish(url: str, queue: str, payloads: list[bytes]) -> None:
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange("taskiq")
        for data in payloads:
            await exchange.publish(aio_pika.Message(body=data), routing_key=queue)


@dataclass(frozen=True, slots=True)
class Leftovers:
    """What a queue holds after a test: still queued or pending, and dead letters."""

    waiting: int
    dead: int


def _leftovers(broker: TaskiqBroker, queue: str) -> Leftovers:
    dead = f"{queue}.dead_letter"
    if broker.redis:
        client = redis.Redis.from_url(broker.url)
        if broker.name == "redis-list":
            waiting = int(client.llen(queue))
        else:
            waiting = int(client.xlen(queue))
        return Leftovers(waiting, int(client.xlen(dead)) if client.exists(dead) else 0)
    return asyncio.run(_rabbit_leftovers(broker.url, queue, dead))


async def _rabbit_leftovers(url: str, queue: str, dead: str) -> Leftovers:
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        counts = []
        for name in (queue, dead):
            declared = await channel.declare_queue(name, passive=True)
            counts.append(int(declared.declaration_result.message_count or 0))
    return Leftovers(*counts)


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture(params=["redis-stream", "redis-list", "rabbitmq"])
def any_broker(request: pytest.FixtureRequest) -> TaskiqBroker:
    """Every taskiq broker."""
    return _broker(request)


@pytest.fixture(params=["redis-stream", "rabbitmq"])
def acked_broker(request: pytest.FixtureRequest) -> TaskiqBroker:
    """The brokers that acknowledge after the task (at least once)."""
    return _broker(request)


@pytest.mark.timeout(240)
def test_taskiq_poison_messages_expect_refused_one_line_each_and_worker_goes_on(
    any_broker: TaskiqBroker,
    queue: str,
    taskiq_env: Callable[..., dict[str, str]],
    taskiq_worker: TaskiqWorker,
    cleanup: list[TaskiqBroker],
    ledger: Ledger,
    fault_report: FaultReport,
) -> None:
    """Bad bytes, bad shapes, bad labels and forged names reach a real worker.

    Each refused message goes to ``<queue>.dead_letter`` with one log line that
    names the problem by kind and position; nothing of a body (the card
    number) reaches the log, and no newline from a message starts a line; the
    messages that may run do; the same worker process serves a good task
    queued behind them; nothing is left queued or unacknowledged; a caller
    waiting on a task the worker does not have gets ``TaskNotRegisteredError``.
    """
    taskiq_env(any_broker)
    cleanup.append(any_broker)
    run = uuid.uuid4().hex[:6]
    poison = attacks(run)
    refused = [attack for attack in poison if attack.refused]
    (after,) = _jobs(1, "after-poison")
    application = build_app()
    handler: Any = application.container.get(LedgerHandler)
    sender = application.container.get(TaskiqTaskSender)
    try:
        with (
            taskiq_worker() as worker,
            fault_report.fault(f"taskiq poison messages ({any_broker.name})"),
        ):
            _send_raw(any_broker, queue, [attack.data for attack in poison])
            stale = sender.send(TaskMessage(task_name="tests.gone.Handler.task"))
            handler.record(after)
            assert ledger.wait_for("done", [after], timeout=60) == {after}
            with pytest.raises(TaskNotRegisteredError):
                stale.get(timeout=30)
            ran = [attack.job for attack in poison if attack.job]
            assert ledger.wait_for("done", ran, timeout=30) == set(ran)
            assert worker.process.poll() is None
            log = worker.log
            assert log.count(READY) == 1  # the worker process never restarted
            _wait(
                lambda: _leftovers(any_broker, queue).waiting == 0,
                30,
                "an empty queue",
            )
            leftovers = _leftovers(any_broker, queue)
            assert leftovers.dead == len(refused) + 1  # and the stale task
            fault_report.tasks([after, *ran], ledger.done())
    finally:
        application.stop()
    assert log.count("Refused ") == len(refused) + 1
    assert "Refused a message: cannot be decoded, not UTF-8 at byte 0" in log
    assert "Refused task no.such.Task\\n[2026-01-01" in log
    assert "with ID: id\\n[2026-01-01" in log
    assert "raised expected: The message's arguments do not fit" in log
    assert CARD not in log
    assert CARD.replace(" ", "") not in log
    assert f"\n{FORGED}" not in log
    assert "Traceback" not in log
    assert_no_secret(log)


@pytest.mark.timeout(240)
def test_taskiq_worker_sigkilled_mid_task_expect_redelivered_and_completed(
    acked_broker: TaskiqBroker,
    taskiq_env: Callable[..., dict[str, str]],
    taskiq_worker: TaskiqWorker,
    cleanup: list[TaskiqBroker],
    ledger: Ledger,
    hold_file: Path,
    fault_report: FaultReport,
) -> None:
    """SIGKILL a worker while it runs a task: another worker runs it again, to the end.

    The message stays unacknowledged while the task runs: on Redis the dead
    worker stops renewing it and a live worker takes it over after
    ``REDELIVERY_TIMEOUT`` (2 s here); on RabbitMQ it returns when the
    connection closes. The delay from the kill to the second start is
    measured. The tasks queued behind it run too; nothing is lost.
    """
    taskiq_env(acked_broker, redelivery_timeout="2")
    cleanup.append(acked_broker)
    application = build_app()
    handler: Any = application.container.get(LedgerHandler)
    held, *queued = _jobs(4, "killed")
    hold_file.touch()
    try:
        with fault_report.fault(
            f"taskiq worker SIGKILLed mid-task ({acked_broker.name})"
        ):
            with taskiq_worker() as first:
                handler.hold(held)
                assert ledger.wait_for("start", [held], timeout=60) == {held}
                for job in queued:
                    handler.record(job)
                with taskiq_worker() as second:  # warm, waiting for work
                    _kill(first)
                    killed_at = time.monotonic()
                    hold_file.unlink()
                    _wait(lambda: ledger.count("start")[held] == 2, 60, "the rerun")
                    delay = time.monotonic() - killed_at
                    done = ledger.wait_for("done", [held, *queued], timeout=60)
                    second_log = second.log
            lost = fault_report.tasks([held, *queued], ledger.done())
            assert lost == set(), f"lost: {sorted(lost)}"
            assert done == {held, *queued}
            reruns = [e for e in ledger.entries() if e.event == "start"]
            assert [e.job for e in reruns] == [held, held]
            assert reruns[0].pid != reruns[1].pid
            setting = ", REDELIVERY_TIMEOUT=2" if acked_broker.redis else ""
            fault_report.measure(
                f"taskiq redelivery after SIGKILL ({acked_broker.name}{setting})",
                delay,
            )
    finally:
        application.stop()
    if acked_broker.redis:
        assert 1.0 <= delay < 10.0
    assert_no_secret(second_log)


@pytest.mark.timeout(180)
def test_taskiq_worker_sigkilled_with_list_broker_expect_task_not_redelivered(
    taskiq_env: Callable[..., dict[str, str]],
    taskiq_worker: TaskiqWorker,
    cleanup: list[TaskiqBroker],
    ledger: Ledger,
    hold_file: Path,
    fault_report: FaultReport,
) -> None:
    """The list broker is at most once: a task whose worker is killed is gone.

    ``SPAKKY_TASKIQ__REDIS_BROKER=list`` takes each message off the list when
    a worker receives it, as docs/reliability.md says; the next task runs.
    """
    broker = BROKERS["redis-list"]
    require_broker(REDIS)
    taskiq_env(broker)
    cleanup.append(broker)
    application = build_app()
    handler: Any = application.container.get(LedgerHandler)
    held, after = _jobs(2, "list-killed")
    hold_file.touch()
    try:
        with fault_report.fault("taskiq worker SIGKILLed mid-task (list broker)"):
            with taskiq_worker() as first:
                handler.hold(held)
                assert ledger.wait_for("start", [held], timeout=60) == {held}
                _kill(first)
            hold_file.unlink()
            with taskiq_worker():
                handler.record(after)
                assert ledger.wait_for("done", [after], timeout=60) == {after}
                time.sleep(3)
                assert ledger.count("start")[held] == 1
                assert ledger.done()[held] == 0
            fault_report.tasks([after], ledger.done())
            fault_report.documented_drop([held])
    finally:
        application.stop()


@pytest.mark.timeout(240)
def test_taskiq_task_killing_its_worker_expect_dead_lettered_after_limit(
    acked_broker: TaskiqBroker,
    queue: str,
    taskiq_env: Callable[..., dict[str, str]],
    taskiq_worker: TaskiqWorker,
    cleanup: list[TaskiqBroker],
    ledger: Ledger,
    fault_report: FaultReport,
) -> None:
    """A task that ends its worker process every time runs ``MAX_DELIVERIES`` times.

    taskiq restarts the dead worker process; the message comes back (Redis:
    after ``REDELIVERY_TIMEOUT``; RabbitMQ: at once, counted by the quorum
    queue) until it was delivered 3 times, then goes to the dead letters with
    one line, and the worker serves the next tasks. On Redis the tasks sent
    alongside it also complete: a message taken over from a dead worker runs
    alone, so the deaths are counted against it only. (RabbitMQ counts every
    message a dying worker had prefetched; there the next tasks are sent
    after the dead-lettering.)
    """
    taskiq_env(acked_broker, redelivery_timeout="1", max_deliveries="3")
    cleanup.append(acked_broker)
    application = build_app()
    handler: Any = application.container.get(LedgerHandler)
    (killer,) = _jobs(1, "killer")
    alongside = _jobs(3, "alongside")
    try:
        with (
            fault_report.fault(f"taskiq task killing its worker ({acked_broker.name})"),
            taskiq_worker() as worker,
        ):
            handler.crash(killer)
            if acked_broker.redis:
                for job in alongside:
                    handler.record(job)
            worker.wait_for("delivered 3 times without being acknowledged", 120)
            if not acked_broker.redis:
                for job in alongside:
                    handler.record(job)
            done = ledger.wait_for("done", alongside, timeout=60)
            assert done == set(alongside)
            assert ledger.count("start")[killer] == 3
            assert worker.process.poll() is None
            log = worker.log
            assert log.count(READY) == 4  # the first process and three restarts
            leftovers = _leftovers(acked_broker, queue)
            assert (leftovers.waiting, leftovers.dead) == (0, 1)
            fault_report.tasks(alongside, ledger.done())
    finally:
        application.stop()
    assert log.count("Refused task ") == 1
    assert "LedgerHandler.crash[" in log
