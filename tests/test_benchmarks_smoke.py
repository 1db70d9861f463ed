"""The benchmark suite runs (smoke mode); it asserts nothing about speed."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.brokers import RABBITMQ, REDIS, require_broker

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.broker
def test_benchmarks_smoke_run_expect_table_and_json(tmp_path: Path) -> None:
    """``python -m benchmarks --smoke`` prints the table and writes every section.

    Every section runs for both transports: spakky-celery against raw Celery,
    spakky-taskiq against raw taskiq.
    """
    require_broker(REDIS)
    require_broker(RABBITMQ)
    out = tmp_path / "smoke.json"
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "| section | row |" in completed.stdout
    assert "| 1 dispatch (taskiq) |" in completed.stdout
    document = json.loads(out.read_text())
    sections = {(row["transport"], row["section"]) for row in document["rows"]}
    assert sections == {
        (transport, section)
        for transport in ("celery", "taskiq")
        for section in ("1 dispatch", "2 worker", "3 end to end", "4 footprint")
    }
    for row in document["rows"]:
        assert row["ours"]["min"] <= row["ours"]["median"] <= row["ours"]["max"]
        assert row["raw"]["median"] > 0
    assert document["meta"]["mode"] == "smoke"
