"""Poison messages on real worker processes: what no message may do to a worker.

Raw list items and AMQP messages a hostile or broken producer could write
(``poison.py``) reach a prefork worker on Redis and RabbitMQ: envelopes that
are not JSON, bodies that are not base64 or UTF-8, headers nested thousands
deep, a zlib bomb, task ids carrying a forged log line, and a task that kills
its process every time it runs. Each is refused or contained: the worker goes
on, the good message queued behind it runs, no body byte reaches the log.
"""

import contextlib
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import amqp
import pytest
import redis
from kombu import Connection

from tests.faults.apps.reliable import build_app
from tests.faults.apps.reliable_handlers import CrashHandler, LedgerHandler
from tests.faults.conftest import FaultWorker, assert_no_secret
from tests.faults.ledger import Ledger
from tests.faults.poison import (
    ATTACKS_REDIS,
    CARD,
    FORGED,
    Attack,
    common_attacks,
    nested,
    nested_json,
    redis_item,
    task_body,
    task_headers,
    zlib_bomb,
)
from tests.faults.report import FaultReport
from tests.faults.servers import RedisServer
from tests.support.brokers import Broker
from tests.support.worker import WorkerProcess

pytestmark = pytest.mark.broker

TARGET = "tests.faults.apps.reliable:celery"
PREFIX = "tests.faults.apps.reliable_handlers"
RECORD = f"{PREFIX}.LedgerHandler.record"
PREFORK = ("-P", "prefork", "-c", "1")
DEEP_AMQP = 3000
"""Header nesting sent to RabbitMQ: past py-amqp's recursion, within a frame."""


def _job(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}"


def _publish_amqp(
    url: str, queue: str, attack: Attack, job: str, task: str = RECORD
) -> None:
    """Publish ``attack`` (or a good task when it changes nothing) to ``queue``."""
    headers: dict[str, object] = {**task_headers(task), **attack.headers}
    limit = sys.getrecursionlimit()
    if attack.deep_headers:
        headers["deep"] = nested(attack.deep_headers)
        sys.setrecursionlimit(max(limit, attack.deep_headers * 4))  # py-amqp recurses
    try:
        with Connection(url) as connection:
            channel: Any = connection.default_channel
            message = amqp.Message(
                attack.body if attack.body is not None else task_body(job),
                content_type=attack.content_type,
                content_encoding="utf-8",
                application_headers=headers,
                delivery_mode=2,
            )
            channel.basic_publish(message, exchange="", routing_key=queue)
    finally:
        sys.setrecursionlimit(limit)


def _send(broker: Broker, queue: str, attack: Attack, job: str) -> None:
    if broker.name == "redis":
        client = redis.Redis.from_url(broker.url)
        try:
            client.lpush(queue, redis_item(attack, RECORD, job, queue))
        finally:
            client.close()
    else:
        _publish_amqp(broker.url, queue, attack, job)


def _attacks(broker: Broker) -> list[Attack]:
    extra = (
        ATTACKS_REDIS
        if broker.name == "redis"
        else [Attack("headers nested 3000 deep", deep_headers=DEEP_AMQP)]
    )
    return [*extra, *common_attacks(RECORD)]


def _forged_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if line.startswith(FORGED[:24])]


@contextlib.contextmanager
def _cleanup(broker: Broker, queue: str) -> Iterator[None]:
    try:
        yield
    finally:
        if broker.name == "redis":
            client = redis.Redis.from_url(broker.url)
            client.delete(queue, f"{queue}.dead-letter")
            client.close()
        else:
            with Connection(broker.url) as connection:
                channel: Any = connection.default_channel
                channel.queue_delete(queue)


@pytest.mark.timeout(300)
def test_poison_messages_expect_refused_worker_alive_nothing_logged(
    broker: Broker,
    use_env: Callable[..., dict[str, str]],
    fault_worker: FaultWorker,
    ledger: Ledger,
    fault_report: FaultReport,
) -> None:
    """Every poison message is refused one by one; a prefork worker goes on.

    Behind each poison message a good task is queued: all of them run on the
    same worker. No line of the worker's log holds the card number of a
    body, none starts with the forged prefix a task id carried after a
    newline, and Celery never reports "Unrecoverable error". On Redis the
    refused messages wait in ``<queue>.dead-letter``.
    """
    env = use_env(SPAKKY_CELERY__BROKER_URL=broker.url)
    queue = env["SPAKKY_CELERY__DEFAULT_QUEUE"]
    attacks = _attacks(broker)
    goods = [_job("after-poison") for _ in attacks]
    bad = _job("bad")
    with (
        _cleanup(broker, queue),
        fault_worker(TARGET, *PREFORK) as worker,
        fault_report.fault(f"poison messages ({broker.name})"),
    ):
        if True:
            for attack, good in zip(attacks, goods, strict=True):
                _send(broker, queue, attack, bad)
                _send(broker, queue, Attack("good"), good)
            done = ledger.wait_for("done", goods, timeout=120)
            assert done == set(goods), f"not run: {set(goods) - done}"
            assert worker.process.poll() is None
            fault_report.tasks(goods, ledger.done())
            log = worker.log
            if broker.name == "redis":
                client = redis.Redis.from_url(broker.url)
                parked = client.llen(f"{queue}.dead-letter")
                client.close()
                # every attack but the task id with a newline (a valid task)
                assert parked == len(attacks) - 1, log
    assert "Unrecoverable error" not in log
    assert CARD not in log
    # Fragments of the body a truncated dump would show; none can occur in the
    # random hex of a queue name or task id, as a bare "4111" could.
    assert "4111 1111" not in log
    assert "cvv 737" not in log
    assert _forged_lines(log) == []
    assert "forged line" in log  # the id was logged, escaped on one line
    assert (
        log.count("Could not handle a task message")
        + log.count("Refused a message on queue")
        + log.count("Rejected task")
        >= len(attacks) - 1
    )
    assert_no_secret(log)


def _rss_kib(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _processes(root: int) -> list[int]:
    """``root`` and its children (prefork pool processes)."""
    found = [root]
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{root}/task").iterdir():
            found += [int(p) for p in (task / "children").read_text().split()]
    return found


class MemoryLimit:
    """Stands in for a container's OOM killer: SIGKILLs the worker over ``limit_kib``.

    Polls the resident size of the worker and its pool processes every 10 ms;
    the first one over the limit takes the whole worker down (as a cgroup
    memory limit does), and ``peak_kib`` keeps the largest size seen.
    """

    def __init__(self, worker: WorkerProcess, limit_kib: int) -> None:
        self.worker, self.limit_kib = worker, limit_kib
        self.peak_kib, self.killed = 0, False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> "MemoryLimit":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        root = self.worker.process.pid
        while not self._stop.is_set() and self.worker.process.poll() is None:
            for pid in _processes(root):
                rss = _rss_kib(pid)
                self.peak_kib = max(self.peak_kib, rss)
                if rss > self.limit_kib:
                    self.killed = True
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(root, signal.SIGKILL)
                    return
            time.sleep(0.01)


MEMORY_LIMIT_KIB = 200 * 1024
"""The stand-in OOM killer's limit per process: 200 MiB (an idle worker: ~90)."""


@pytest.mark.timeout(240)
@pytest.mark.parametrize("compression", ["not configured", "gzip, 1 MiB cap"])
def test_compression_bomb_under_memory_limit_expect_refused_worker_alive(
    broker: Broker,
    use_env: Callable[..., dict[str, str]],
    fault_worker: FaultWorker,
    ledger: Ledger,
    fault_report: FaultReport,
    compression: str,
) -> None:
    """A 261 KB zlib bomb (256 MiB inflated) reaches a worker held to 200 MiB.

    Without ``TASK_COMPRESSION`` the worker refuses the compressed message
    before inflating it; with ``gzip`` it inflates up to ``MAX_MESSAGE_BYTES``
    and refuses the rest. Either way no process of the worker grows past the
    limit, and the good message queued behind the bomb runs; with gzip
    configured, a compressed task of our own application runs too.
    """
    env = use_env(SPAKKY_CELERY__BROKER_URL=broker.url)
    if compression != "not configured":
        env = use_env(
            SPAKKY_CELERY__TASK_COMPRESSION="gzip",
            SPAKKY_CELERY__MAX_MESSAGE_BYTES=str(1024 * 1024),
        )
    queue = env["SPAKKY_CELERY__DEFAULT_QUEUE"]
    bomb = Attack(
        "zlib bomb", body=zlib_bomb(), headers={"compression": "application/x-gzip"}
    )
    good, own = _job("after-bomb"), _job("compressed")
    application = build_app()
    try:
        with (
            _cleanup(broker, queue),
            fault_worker(TARGET, *PREFORK) as worker,
            MemoryLimit(worker, MEMORY_LIMIT_KIB) as limit,
            fault_report.fault(f"zlib bomb, compression {compression} ({broker.name})"),
        ):
            _send(broker, queue, bomb, _job("bomb"))
            _send(broker, queue, Attack("good"), good)
            handler: Any = application.container.get(LedgerHandler)
            handler.record(own)
            done = ledger.wait_for("done", [good, own], timeout=90)
            assert not limit.killed, f"OOM: {limit.peak_kib} KiB"
            assert done == {good, own}
            assert worker.process.poll() is None
            fault_report.tasks([good, own], ledger.done())
            log = worker.log
    finally:
        application.stop()
    assert limit.peak_kib < MEMORY_LIMIT_KIB
    expected = (
        "configures no compression"
        if compression == "not configured"
        else "inflates to more than 1048576 bytes"
    )
    assert expected in log


@pytest.fixture(params=["private-redis", "rabbitmq"])
def crash_broker(
    request: pytest.FixtureRequest, use_env: Callable[..., dict[str, str]]
) -> str:
    """A broker, with late acks and reject-on-worker-lost: the loop's settings."""
    if request.param == "private-redis":
        server: RedisServer = request.getfixturevalue("private_redis")
        url = server.url()
    else:
        url = request.getfixturevalue("shared_rabbitmq")
    use_env(
        SPAKKY_CELERY__BROKER_URL=url,
        SPAKKY_CELERY__TASK_ACKS_LATE="true",
        SPAKKY_CELERY__TASK_REJECT_ON_WORKER_LOST="true",
        SPAKKY_CELERY__MAX_REDELIVERIES="2",
    )
    return url


@pytest.mark.timeout(240)
def test_message_that_kills_its_process_expect_stopped_after_bounded_deliveries(
    crash_broker: str,
    fault_worker: FaultWorker,
    ledger: Ledger,
    fault_report: FaultReport,
) -> None:
    """A task that kills its pool process each run is stopped, not looped.

    With late acks and reject-on-worker-lost the message goes back to the
    queue after each death; Celery alone hands it out forever. With
    ``MAX_REDELIVERIES=2`` it runs 3 times, is then rejected (dead-lettered)
    with one log line, and the task queued behind it runs.
    """
    application = build_app()
    crash: Any = application.container.get(CrashHandler)
    record: Any = application.container.get(LedgerHandler)
    poison, good = _job("crash"), _job("after-crash")
    try:
        with (
            fault_worker(TARGET, *PREFORK) as worker,
            fault_report.fault("message that kills its worker process"),
        ):
            crash.crash(poison)
            record.record(good)
            worker.wait_for("came back to its queue unfinished 3 times", timeout=120)
            assert ledger.wait_for("done", [good], timeout=60) == {good}
            time.sleep(2)  # a fourth start would show up now
            assert ledger.count("start")[poison] == 3
            assert worker.process.poll() is None
            fault_report.tasks([good], ledger.done())
            log = worker.log
    finally:
        application.stop()
    assert "Unrecoverable error" not in log
    assert_no_secret(log)


@pytest.mark.timeout(180)
def test_poison_broadcast_to_remote_control_expect_refused_worker_alive(
    private_redis: RedisServer,
    use_env: Callable[..., dict[str, str]],
    fault_worker: FaultWorker,
    ledger: Ledger,
    fault_report: FaultReport,
) -> None:
    """Poison on Celery's remote-control channel (Redis pub/sub) stops nothing.

    A private Redis: every worker listens on its broker's ``celery.pidbox``
    channel, so poison published there on the shared Redis would reach other
    test runs' workers. kombu alone logs the data whole when it is not JSON
    and raises ``RecursionError`` out of the event loop on deep nesting.
    """
    url = private_redis.url()
    use_env(SPAKKY_CELERY__BROKER_URL=url)
    application = build_app()
    handler: Any = application.container.get(LedgerHandler)
    good = _job("after-broadcast")
    try:
        with (
            fault_worker(TARGET, *PREFORK) as worker,
            fault_report.fault("poison on the remote-control channel (redis)"),
        ):
            client = redis.Redis.from_url(url)
            try:
                for item in (
                    b"\x00\xffnot json " + CARD.encode(),
                    nested_json(100_000).encode(),
                ):
                    assert client.publish("/0.celery.pidbox", item) == 1
            finally:
                client.close()
            worker.wait_for("Refused a broadcast message", timeout=30)
            handler.record(good)
            assert ledger.wait_for("done", [good], timeout=60) == {good}
            assert worker.process.poll() is None
            fault_report.tasks([good], ledger.done())
            log = worker.log
    finally:
        application.stop()
    assert log.count("Refused a broadcast message") == 2
    assert CARD not in log
    assert "Unrecoverable error" not in log
    assert_no_secret(log)
