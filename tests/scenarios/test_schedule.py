"""Scenarios: @schedule methods run through the transport's real scheduler."""

import asyncio
import os
import time
from typing import Any

import pytest

from tests.scenarios.apps.handlers import RECORDS_VARIABLE, Ticker
from tests.scenarios.conftest import Stack

pytestmark = pytest.mark.broker


def test_scenario_schedules_expect_ticks_run_by_worker_in_root_traces(
    stack: Stack,
) -> None:
    """Celery beat / taskiq's scheduler sends every interval schedule to the worker.

    A schedule-only method and a ``@task`` + ``@schedule`` async method both
    run repeatedly in the worker process, each run in a trace of its own (the
    scheduler has no caller); the latter is also dispatchable by a call. A
    method with ``@schedule_options`` receives the declared arguments.
    """
    start = len(stack.read(RECORDS_VARIABLE))

    def ticks() -> list[dict[str, Any]]:
        return [r for r in stack.read(RECORDS_VARIABLE)[start:] if "tick" in r]

    with stack.scheduler() as scheduler:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            names = [run["tick"] for run in ticks()]
            if all(names.count(name) >= 2 for name in ("tick", "tock", "report")):
                break
            time.sleep(0.5)
        log = scheduler.log
    ticker: Any = stack.app.container.get(Ticker)

    async def tock() -> object:
        handle = await ticker.tock()
        return await handle.get_async(timeout=30)

    assert asyncio.run(tock()) == "tock"

    runs = ticks()
    names = [run["tick"] for run in runs]
    assert names.count("tick") >= 2, log + stack.worker.log
    assert names.count("tock") >= 2, log + stack.worker.log
    scheduled = [run for run in runs if run["tick"] in ("tick", "tock")]
    assert {run["pid"] for run in scheduled} == {scheduled[0]["pid"]}
    assert scheduled[0]["pid"] != os.getpid()
    assert all(run["parent_span_id"] is None for run in scheduled)
    assert len({run["trace_id"] for run in scheduled}) == len(scheduled)
    # @schedule_options: every run gets the declared arguments.
    reports = [run for run in runs if run["tick"] == "report"]
    assert len(reports) >= 2, log + stack.worker.log
    assert {(run["region"], run["full"]) for run in reports} == {("eu", True)}
    assert {run["pid"] for run in reports} == {scheduled[0]["pid"]}
