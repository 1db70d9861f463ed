"""The README's main-job command, pointed at each real broker."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.brokers import Broker

pytestmark = pytest.mark.broker

ROOT = Path(__file__).resolve().parents[2]


def test_quickstart_on_real_broker_expect_dispatched_and_returned(
    broker: Broker, celery_env: dict[str, str]
) -> None:
    """``python -m quickstart`` with SPAKKY_CELERY__BROKER_URL uses that broker."""
    env = {
        **os.environ,
        **celery_env,
        "PYTHONPATH": str(ROOT / "examples"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "quickstart"],
        cwd=ROOT / "examples",
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert f"broker: {broker.url.split('://')[0]}://" in output
    assert "guest:guest" not in output
    assert "came back: None" in output
    assert "came back: '3 values, total 12'" in output
    assert "outbox: user@example.com 'Hello' sent by worker pid" in output
    assert "beat ran heartbeat" in output
    assert "cleaned up" in output
