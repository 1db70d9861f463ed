"""A user's ``Celery`` subclass that overrides ``send_task`` is honoured."""

import sys
from pathlib import Path

import pytest
from celery import Celery

from tests.e2e.apps.tenant import TenantCelery, TenantProbe, build_app
from tests.support.worker import quiet_options, spawn

pytestmark = pytest.mark.broker


def test_celery_subclass_send_task_expect_worker_sees_its_header(
    celery_env: dict[str, str], tmp_path: Path
) -> None:
    """Dispatch goes through the subclass's ``send_task``: its header arrives.

    Before, the fast publish path re-implemented ``send_task`` and silently
    bypassed the override.
    """
    argv = [
        sys.executable,
        "-m",
        "spakky.plugins.celery.cli",
        "worker",
        "tests.e2e.apps.tenant:build_app",
        "--pool",
        "solo",
        *quiet_options("worker"),
    ]
    app = build_app()
    try:
        assert isinstance(app.container.get(Celery), TenantCelery)
        with spawn(argv, celery_env, tmp_path / "tenant-worker.log"):
            handle = app.container.get(TenantProbe).tenant()
            assert handle.get(timeout=30) == "acme"  # type: ignore[attr-defined]
    finally:
        app.stop()
