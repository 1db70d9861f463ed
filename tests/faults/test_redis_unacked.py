"""Redis killed for 5 s under a stream of tasks: every sent task runs soon after.

kombu's Redis transport keeps each message a worker took in the ``unacked``
hash until its acknowledgement reaches Redis. When Redis goes away, the
messages the worker had prefetched (Celery drops them on reconnecting) and
the acknowledgements it could not send are stuck there until a sweep finds
them older than ``visibility_timeout``: an hour by default, even with early
acks. The test kills a private Redis (AOF, fsync always) for five seconds in
the middle of a stream of dispatches to a prefork worker with a full prefetch
buffer, several times, and measures for every task its caller was told was
sent how long it took to run, how often it ran, and what is left in
``unacked`` once the stream drained.
"""

import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis

from tests.faults.apps.reliable import build_app
from tests.faults.apps.reliable_handlers import LedgerHandler
from tests.faults.conftest import FaultWorker, assert_no_secret
from tests.faults.ledger import Ledger
from tests.faults.report import FaultReport
from tests.faults.servers import RedisServer

pytestmark = pytest.mark.broker

TARGET = "tests.faults.apps.reliable:celery"
RUNS = int(os.environ.get("SPAKKY_FAULT_REDIS_RESTARTS", "3"))
"""Kills per test run (``SPAKKY_FAULT_REDIS_RESTARTS``; the issue's figure was 8)."""
DOWN_FOR = 5.0
"""Seconds Redis stays down each time."""
TASK_SECONDS = 0.1
"""What each task takes: two pool processes run 20 a second."""
GAP = 0.04
"""Seconds between dispatches (25 a second): the prefetch buffer stays full."""
BOUND = 30.0
"""Seconds after Redis is back by which every sent task has run (documented)."""


@dataclass
class Run:
    """What one kill observed."""

    sent: dict[str, float] = field(default_factory=dict)
    refused: int = 0
    down_at: float = 0.0
    up_at: float = 0.0


def _stream(handler: Any, server: RedisServer, prefix: str) -> Run:
    """Dispatch for 1.5 s, kill Redis for ``DOWN_FOR`` s, dispatch 2 s more."""
    run = Run()

    def outage() -> None:
        run.down_at = time.time()
        server.kill()
        time.sleep(DOWN_FOR)
        server.start()
        run.up_at = time.time()

    killer = threading.Timer(1.5, outage)
    killer.start()
    index = 0
    while not run.up_at or time.time() < run.up_at + 2.0:
        job = f"{prefix}-{index:04d}"
        index += 1
        try:
            handler.pause(job, TASK_SECONDS)
        except Exception:  # the caller was told: not counted as sent
            run.refused += 1
        else:
            run.sent[job] = time.time()
        time.sleep(GAP)
    killer.join()
    return run


@pytest.mark.timeout(120 + RUNS * 90)
def test_redis_killed_mid_stream_expect_sent_tasks_run_once_within_bound(
    private_redis: RedisServer,
    use_env: Callable[..., dict[str, str]],
    fault_worker: FaultWorker,
    ledger: Ledger,
    fault_report: FaultReport,
) -> None:
    """Every task told "sent" runs within ``BOUND`` s of Redis being back, once.

    Early acks (the default), Celery's prefetch of 4 per process, kombu's
    default visibility timeout of an hour. After each kill the test waits for
    every sent task, then checks that ``unacked`` is empty: a message left
    there would run again (or for the first time) an hour later.
    """
    use_env(
        SPAKKY_CELERY__BROKER_URL=private_redis.url(),
        SPAKKY_CELERY__PUBLISH_MAX_RETRIES="60",
        SPAKKY_CELERY__PUBLISH_RETRY_INTERVAL="0.25",
    )
    application = build_app()
    handler: Any = application.container.get(LedgerHandler)  # returns handles
    client = redis.Redis.from_url(private_redis.url())
    worst, worst_after_up, stuck, duplicates = 0.0, 0.0, 0, 0
    try:
        with fault_worker(TARGET, "-P", "prefork", "-c", "2") as worker:
            for number in range(RUNS):
                prefix = f"unacked-{number}-{uuid.uuid4().hex[:6]}"
                with fault_report.fault("redis killed for 5 s mid-stream"):
                    run = _stream(handler, private_redis, prefix)
                    wait = max(run.up_at + BOUND - time.time(), 1.0)
                    done = ledger.wait_for("done", run.sent, timeout=wait)
                    ran = ledger.first("done")
                    delays = {job: ran[job] - run.sent[job] for job in done}
                    late = {
                        job: ran[job] - max(run.sent[job], run.up_at) for job in done
                    }
                    time.sleep(1.0)  # a duplicate run would show up now
                    counts = ledger.done()
                    left = client.hlen("unacked")
                    fault_report.tasks(run.sent, counts, refused=run.refused)
                    missing = set(run.sent) - done
                    assert not missing, (
                        f"run {number}: {len(missing)} sent tasks did not run within "
                        f"{BOUND} s of Redis being back (unacked: {left})"
                    )
                    assert left == 0, f"run {number}: {left} messages stuck in unacked"
                    assert max(late.values()) < BOUND
                    twice = sorted(job for job in run.sent if counts[job] > 1)
                    assert twice == [], f"run {number}: ran twice: {twice}"
                    worst = max(worst, max(delays.values()))
                    worst_after_up = max(worst_after_up, max(late.values()))
                    stuck += left
                    duplicates += sum(counts[job] - 1 for job in run.sent)
            log = worker.log
    finally:
        client.close()
        application.stop()
    fault_report.figures.append(
        f"redis killed {RUNS}x for {DOWN_FOR:.0f} s mid-stream (early acks, "
        f"prefork): worst sent-to-ran {worst:.1f} s, worst after Redis was "
        f"back {worst_after_up:.1f} s (bound {BOUND:.0f} s), duplicates "
        f"{duplicates}, left in unacked {stuck}"
    )
    assert_no_secret(log)
