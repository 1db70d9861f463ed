"""Scenarios: @schedule methods run through the transport's real scheduler."""

import asyncio
import os
import time
from typing import Any

import pytest

from tests.scenarios.apps.handlers import RECORDS_VARIABLE, Ticker
from tests.scenarios.checks import assert_root
from tests.scenarios.conftest import Stack

pytestmark = pytest.mark.broker

TICKER = f"{Ticker.__module__}.{Ticker.__qualname__}"


def test_scenario_schedules_expect_ticks_run_by_worker_in_root_traces(
    stack: Stack,
) -> None:
    """Celery beat / taskiq's scheduler sends every interval schedule to the worker.

    A ``@task`` + ``@schedule`` async method called without a scheduler runs
    once, as any task. Then the scheduler sends each interval schedule (its log
    says so): a schedule-only method and the ``@task`` + ``@schedule`` method
    both run repeatedly in the worker process, with their injected
    dependency, each run in a root trace of its own (the scheduler has no
    caller). A method with ``@schedule_options`` receives the declared
    arguments.
    """
    ticker: Any = stack.app.container.get(Ticker)
    start = len(stack.read(RECORDS_VARIABLE))

    def ticks() -> list[dict[str, Any]]:
        return [r for r in stack.read(RECORDS_VARIABLE)[start:] if "tick" in r]

    async def tock() -> object:
        handle = await ticker.tock()
        return await handle.get_async(timeout=30)

    assert asyncio.run(tock()) == "tock"
    assert [run["tick"] for run in ticks()] == ["tock"]
    start = len(stack.read(RECORDS_VARIABLE))

    with stack.scheduler() as scheduler:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            names = [run["tick"] for run in ticks()]
            if all(names.count(name) >= 2 for name in ("tick", "tock", "report")):
                break
            time.sleep(0.5)
        log = scheduler.log

    runs = ticks()
    names = [run["tick"] for run in runs]
    assert names.count("tick") >= 2, log + stack.worker.log
    assert names.count("tock") >= 2, log + stack.worker.log
    for name in ("tick", "tock", "report"):
        assert stack.transport.scheduler_sent.format(f"{TICKER}.{name}") in log
    scheduled = [run for run in runs if run["tick"] in ("tick", "tock")]
    assert {run["pid"] for run in scheduled} == {scheduled[0]["pid"]}
    assert scheduled[0]["pid"] != os.getpid()
    for run in scheduled:
        assert_root(run)
    assert len({run["trace_id"] for run in scheduled}) == len(scheduled)
    # @schedule_options: every run gets the declared arguments.
    reports = [run for run in runs if run["tick"] == "report"]
    assert len(reports) >= 2, log + stack.worker.log
    assert {(run["region"], run["full"]) for run in reports} == {("eu", True)}
    assert {run["pid"] for run in reports} == {scheduled[0]["pid"]}
