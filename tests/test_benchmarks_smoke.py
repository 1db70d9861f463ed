"""The benchmark suite runs (smoke mode); it asserts nothing about speed."""

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.support.brokers import RABBITMQ, REDIS, require_broker

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """``benchmarks.harness`` (the repository root is not on the test path)."""
    monkeypatch.syspath_prepend(str(ROOT))
    harness = importlib.import_module("benchmarks.harness")
    for module in ("rows", "timing"):
        importlib.import_module(f"benchmarks.harness.{module}")
    return harness


def _run(tmp_path: Path, *options: str) -> tuple[str, dict[str, object]]:
    """Run ``python -m benchmarks --smoke`` with ``options``: its output, its JSON."""
    out = tmp_path / "smoke.json"
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", *options, "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout, json.loads(out.read_text())


@pytest.mark.broker
def test_benchmarks_smoke_run_expect_table_and_json(tmp_path: Path) -> None:
    """``python -m benchmarks --smoke`` prints the table and writes every section.

    Every section runs for both transports: spakky-celery against raw Celery,
    spakky-taskiq against raw taskiq; the table has the old distribution's
    column (its figures, or n/a with the reason).
    """
    require_broker(REDIS)
    require_broker(RABBITMQ)
    stdout, document = _run(tmp_path)
    assert "| section | row |" in stdout
    assert "| old 8.5.0 median (min..max) | ours/raw | ours/old |" in stdout
    assert "| 1 dispatch (taskiq) |" in stdout
    rows = document["rows"]
    assert isinstance(rows, list)
    sections = {(row["transport"], row["section"]) for row in rows}
    assert sections == {
        (transport, section)
        for transport in ("celery", "taskiq")
        for section in ("1 dispatch", "2 worker", "3 end to end", "4 footprint")
    }
    for row in rows:
        assert row["ours"]["min"] <= row["ours"]["median"] <= row["ours"]["max"]
        assert row["raw"]["median"] > 0
        assert row["old"] is not None or row["old_missing"]
    assert document["meta"]["mode"] == "smoke"  # type: ignore[index]


@pytest.mark.broker
def test_benchmarks_cost_section_expect_with_and_without_rows(tmp_path: Path) -> None:
    """``--only cost`` (the per-adapter cost scripts, moved in) gives its rows."""
    require_broker(REDIS)
    stdout, document = _run(tmp_path, "--only", "cost")
    names = [row["name"] for row in document["rows"]]  # type: ignore[index]
    assert any(name.startswith("argument check: dispatch") for name in names)
    assert any(name.startswith("auth: invoke @protected") for name in names)
    assert any(
        name.startswith("tracing: dispatch through CeleryTaskSender") for name in names
    )
    assert "publish fast paths: fast publish, memory, CPU" in names
    assert "publish fast paths: both (default), redis, wall" in names
    assert "| 6 cost (core) |" in stdout


@pytest.mark.broker
def test_benchmarks_old_column_expect_figures_of_8_5_0(tmp_path: Path) -> None:
    """``--old`` creates (or reuses) spakky-celery 8.5.0's environment and
    measures it: worker-side rows and start-up get an old figure."""
    require_broker(REDIS)
    stdout, document = _run(
        tmp_path,
        "--old",
        "--transport",
        "celery",
        "--only",
        "worker",
        "--only",
        "import",
    )
    rows = document["rows"]
    assert isinstance(rows, list)
    if any(row["old"] is None for row in rows) and os.environ.get("CI") != "true":
        pytest.skip(f"no old environment here: {rows[0]['old_missing']}")
    assert [row["section"] for row in rows] == ["2 worker"] * 4 + ["4 footprint"] * 3
    for row in rows:
        assert row["old"]["median"] > 0
        assert row["ratio_old"] == row["ours"]["median"] / row["old"]["median"]
    assert "n/a" not in stdout


def test_benchmarks_rotation_expect_every_side_first_in_turn(
    harness: ModuleType,
) -> None:
    """Sides are sampled once per repeat, each repeat starting one side later."""
    order = list(harness.timing.rotation(["ours", "raw", "old"], 4))
    assert order[:6] == ["ours", "raw", "old", "raw", "old", "ours"]
    assert order[6:] == ["old", "ours", "raw", "ours", "raw", "old"]


def test_benchmarks_table_missing_old_expect_numbered_reason(
    harness: ModuleType,
) -> None:
    """A row without an old figure shows n/a and, below the table, why."""
    Row, table = harness.rows.Row, harness.rows.table
    stat = harness.timing.Stat(median=2.0, min=1.0, max=3.0)
    rows = [
        Row.of("dispatch", "a", {"ours": stat, "raw": stat, "old": stat}),
        Row.of("dispatch", "b", {"ours": stat, "raw": stat}, old_missing="no taskiq"),
    ]
    printed = table(rows)
    assert (
        "| 1 dispatch | a | µs/call | 2.0 (1.0..3.0) | 2.0 (1.0..3.0) | 2.0 (1.0..3.0) | 1.00x | 1.00x |  |"
        in printed
    )
    assert (
        "| 1 dispatch | b | µs/call | 2.0 (1.0..3.0) | 2.0 (1.0..3.0) | n/a (1) | 1.00x |  |  |"
        in printed
    )
    assert printed.endswith("n/a (1): no taskiq")
