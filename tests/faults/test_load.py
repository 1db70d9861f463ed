"""Load on a real prefork worker: nothing lost, nothing twice, memory flat.

Dispatches from several threads (a sync ``@task``) and from many coroutines
(an async ``@task`` dispatched with ``await``) at once, to one prefork worker
on Redis and on RabbitMQ. Every task writes its run to the ledger: the test
counts lost and duplicated tasks from it, and samples the resident memory of
the worker and its pool processes while it works.

The size is the issue's, 20,000 threaded and 2,000 awaited dispatches per
broker (about 25 s each here); ``SPAKKY_FAULT_LOAD_TASKS`` and
``SPAKKY_FAULT_LOAD_ASYNC`` change it. docs/reliability.md gives the figures.
"""

import asyncio
import contextlib
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.faults.apps.reliable import build_app
from tests.faults.apps.reliable_handlers import LedgerHandler
from tests.faults.conftest import FaultWorker
from tests.faults.ledger import Ledger
from tests.faults.report import FaultReport
from tests.support.brokers import Broker

pytestmark = pytest.mark.broker

TARGET = "tests.faults.apps.reliable:celery"
THREADED = int(os.environ.get("SPAKKY_FAULT_LOAD_TASKS", "20000"))
"""Sync dispatches, split over ``THREADS`` threads."""
AWAITED = int(os.environ.get("SPAKKY_FAULT_LOAD_ASYNC", "2000"))
"""Async dispatches, split over ``COROUTINES`` coroutines."""
THREADS = 4
COROUTINES = 200
RSS_GROWTH_BOUND_MIB = 16.0
"""Largest growth of the worker's resident memory (main process and pool
processes together) from the first 10% of the tasks to the end."""


def _rss_mib(root: int) -> float:
    """Resident memory of ``root`` and its children, in MiB (from /proc)."""
    pids = [root]
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{root}/task").iterdir():
            pids += [int(p) for p in (task / "children").read_text().split()]
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


@dataclass
class Load:
    """What one load run observed."""

    accepted: list[str]
    refused: int
    dispatch_seconds: float


def _dispatch(handler: Any, run: str) -> Load:
    """``THREADED`` sync dispatches from threads and ``AWAITED`` from coroutines."""
    accepted: list[list[str]] = [[] for _ in range(THREADS + 1)]
    refused = [0]

    def thread(index: int) -> None:
        for number in range(THREADED // THREADS):
            job = f"{run}-t{index}-{number:05d}"
            try:
                handler.record(job)
            except Exception:  # counted: the caller was told
                refused[0] += 1
            else:
                accepted[index].append(job)

    async def coroutine(index: int) -> None:
        for number in range(AWAITED // COROUTINES):
            job = f"{run}-c{index:03d}-{number:03d}"
            try:
                await handler.arecord(job)
            except Exception:  # counted: the caller was told
                refused[0] += 1
            else:
                accepted[THREADS].append(job)

    async def coroutines() -> None:
        await asyncio.gather(*(coroutine(index) for index in range(COROUTINES)))

    started = time.monotonic()
    threads = [threading.Thread(target=thread, args=(i,)) for i in range(THREADS)]
    for each in threads:
        each.start()
    asyncio.run(coroutines())
    for each in threads:
        each.join()
    return Load(
        [job for jobs in accepted for job in jobs],
        refused[0],
        time.monotonic() - started,
    )


@pytest.mark.timeout(300 + (THREADED + AWAITED) // 20)
def test_load_threads_and_coroutines_expect_every_task_once_and_memory_flat(
    broker: Broker,
    use_env: Callable[..., dict[str, str]],
    fault_worker: FaultWorker,
    ledger: Ledger,
    fault_report: FaultReport,
) -> None:
    """Every dispatch returns, every task runs exactly once, RSS stays flat.

    Flat: the worker's resident memory (main process plus both pool
    processes) once 10% of the tasks ran, and once all ran, differ by less
    than ``RSS_GROWTH_BOUND_MIB``.
    """
    use_env(SPAKKY_CELERY__BROKER_URL=broker.url)
    application = build_app()
    handler: Any = application.container.get(LedgerHandler)  # returns handles
    total = THREADED // THREADS * THREADS + AWAITED // COROUTINES * COROUTINES
    run = f"load-{broker.name}-{uuid.uuid4().hex[:6]}"
    samples: dict[str, float] = {}
    loads: list[Load] = []
    try:
        with (
            fault_worker(TARGET, "-P", "prefork", "-c", "2") as worker,
            fault_report.fault(f"load: {total} tasks ({broker.name})"),
        ):
            started = time.monotonic()
            dispatcher = threading.Thread(
                target=lambda: loads.append(_dispatch(handler, run))
            )
            dispatcher.start()
            deadline = started + 120 + total / 20
            while time.monotonic() < deadline:
                seen = len(ledger.done())
                if "first" not in samples and seen >= total // 10:
                    samples["first"] = _rss_mib(worker.process.pid)
                if seen >= total and not dispatcher.is_alive():
                    break
                time.sleep(1.0)
            dispatcher.join()
            elapsed = time.monotonic() - started
            samples["end"] = _rss_mib(worker.process.pid)
            (load,) = loads
            counts = ledger.done()
            lost = fault_report.tasks(load.accepted, counts, refused=load.refused)
            duplicates = sum(counts[job] - 1 for job in load.accepted if counts[job])
            growth = samples["end"] - samples["first"]
            fault_report.figures.append(
                f"load ({broker.name}): {len(load.accepted)} of {total} "
                f"dispatches returned ({THREADS} threads, {COROUTINES} "
                f"coroutines) in {load.dispatch_seconds:.0f} s, all run in "
                f"{elapsed:.0f} s; lost {len(lost)}, duplicates {duplicates}; "
                f"worker RSS {samples['first']:.0f} MiB at 10% -> "
                f"{samples['end']:.0f} MiB at the end ({growth:+.1f} MiB)"
            )
            assert load.refused == 0
            assert len(load.accepted) == total
            assert lost == set(), f"{len(lost)} lost"
            assert duplicates == 0
            assert worker.process.poll() is None
            assert growth < RSS_GROWTH_BOUND_MIB, fault_report.figures[-1]
    finally:
        application.stop()
