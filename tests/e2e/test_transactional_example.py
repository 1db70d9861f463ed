"""The transactional-dispatch example, run as its README line says, on the embedded default."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_transactional_example_embedded_expect_committed_mailed_rolled_back_not() -> (
    None
):
    """SQLite database and broker: one order and one e-mail; the rollback sent nothing."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SPAKKY_CELERY__", "SPAKKY_SQLALCHEMY__"))
    }
    done = subprocess.run(
        [sys.executable, "-m", "transactional_orders"],
        cwd=ROOT / "examples",
        env={**env, "PYTHONPATH": str(ROOT / "examples")},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    task = re.search(r"placed A-1001; its e-mail is task ([\w-]+)", output)
    assert task is not None, output
    assert "came back: 'confirmation for A-1001 sent to ada@example.com'" in output
    assert "A-1002 is out of stock: the transaction rolled back" in output
    assert "orders in the database: ['A-1001']" in output
    assert "task outbox: 1 stored, 1 published" in output
    assert "mailbox: confirmation of A-1001 to ada@example.com" in output
    assert "A-1002 to" not in output
    assert "e-mails sent: 1" in output
    assert "stopped the worker" in output
