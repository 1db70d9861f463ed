"""End to end: ``spakky-celery worker`` / ``beat`` with no ``celery -A`` glue."""

import sys
from pathlib import Path

import pytest
from spakky.core.application.application import SpakkyApplication

from tests.e2e.apps.basic import build_app
from tests.e2e.apps.basic_handlers import EmailTaskHandler
from tests.support.worker import quiet_options, spawn

pytestmark = pytest.mark.broker


def test_cli_worker_runs_factory_application_expect_task_result(
    celery_env: dict[str, str], tmp_path: Path
) -> None:
    """The worker started by the CLI from a factory executes dispatched tasks."""
    argv = [
        sys.executable,
        "-m",
        "spakky.plugins.celery.cli",
        "worker",
        "tests.e2e.apps.basic:build_app",
        "-P",
        "solo",
        *quiet_options("worker"),
    ]
    app: SpakkyApplication = build_app()
    try:
        with spawn(argv, celery_env, tmp_path / "cli-worker.log"):
            result = app.container.get(EmailTaskHandler).shout("via cli")
            assert result.get(timeout=30) == "VIA CLI"
    finally:
        app.stop()
