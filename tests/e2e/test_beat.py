"""End to end: ``celery beat`` sends the @schedule entries and a worker runs them."""

import json
import os
import time
from pathlib import Path

import pytest

from tests.conftest import WorkerFactory
from tests.e2e.apps.beat import build_app
from tests.e2e.apps.beat_handlers import TICKS_VARIABLE, TickHandler

pytestmark = pytest.mark.broker

TARGET = "tests.e2e.apps.beat:celery"
PREFIX = "tests.e2e.apps.beat_handlers.TickHandler"


def _ticks(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_beat_sends_schedules_and_worker_runs_them_expect_ticks_with_di(
    worker: WorkerFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real beat process sends each schedule; a real worker runs it with DI."""
    ticks = tmp_path / "ticks.jsonl"
    monkeypatch.setenv(TICKS_VARIABLE, str(ticks))
    env = {TICKS_VARIABLE: str(ticks)}
    with (
        worker(TARGET, "-P", "solo", env=env) as running,
        worker(
            TARGET,
            "--schedule",
            str(tmp_path / "beat-schedule"),
            "--max-interval",
            "1",
            command="beat",
            env=env,
            ready="beat: Starting",
        ) as beat,
    ):
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            names = [entry["name"] for entry in _ticks(ticks)]
            if names.count("tick") >= 2 and names.count("tock") >= 2:
                break
            time.sleep(0.5)
        beat_log, worker_log = beat.log, running.log
    names = [entry["name"] for entry in _ticks(ticks)]
    assert names.count("tick") >= 2, beat_log + worker_log
    assert names.count("tock") >= 2, beat_log + worker_log
    assert {entry["pid"] for entry in _ticks(ticks)} != {os.getpid()}
    assert f"Sending due task {PREFIX}.tick ({PREFIX}.tick)" in beat_log
    assert f"Sending due task {PREFIX}.tock ({PREFIX}.tock)" in beat_log


def test_task_and_schedule_method_also_dispatchable_expect_result(
    worker: WorkerFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A @task + @schedule method is dispatched like any task when called."""
    ticks = tmp_path / "ticks.jsonl"
    monkeypatch.setenv(TICKS_VARIABLE, str(ticks))
    app = build_app()
    try:
        with worker(TARGET, "-P", "solo", env={TICKS_VARIABLE: str(ticks)}):
            assert app.container.get(TickHandler).tock().get(timeout=30) == "tock"
    finally:
        app.stop()
    assert [entry["name"] for entry in _ticks(ticks)] == ["tock"]
