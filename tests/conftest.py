"""Fixtures shared by the cross-package and end-to-end tests."""

import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from tests.support.brokers import RABBITMQ, REDIS, Broker, require_broker
from tests.support.worker import WorkerProcess, celery_process


@pytest.fixture(params=[REDIS, RABBITMQ], ids=lambda broker: broker.name)
def broker(request: pytest.FixtureRequest) -> Broker:
    """Each real broker in turn (skipped without it, failing under CI=true)."""
    spec: Broker = request.param
    require_broker(spec)
    return spec


@pytest.fixture
def celery_env(broker: Broker, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """``SPAKKY_CELERY__*`` for this test: its broker and a queue of its own.

    The variables are also set in this process, so an application built by the
    test talks to the same broker and queue as the worker process.
    """
    env = {
        "SPAKKY_CELERY__BROKER_URL": broker.url,
        "SPAKKY_CELERY__RESULT_BACKEND": broker.backend_url,
        "SPAKKY_CELERY__DEFAULT_QUEUE": f"spakky-test-{uuid.uuid4().hex[:12]}",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


type WorkerFactory = Callable[..., AbstractContextManager[WorkerProcess]]


@pytest.fixture
def worker(celery_env: dict[str, str], tmp_path: Path) -> WorkerFactory:
    """Start ``celery worker`` processes for an app target, stopped after the test."""
    counter = iter(range(1000))

    def start(
        target: str,
        *args: str,
        command: str = "worker",
        env: dict[str, str] | None = None,
        ready: str | None = "ready.",
    ) -> AbstractContextManager[WorkerProcess]:
        return celery_process(
            target,
            {**celery_env, **(env or {})},
            tmp_path / f"{command}-{next(counter)}.log",
            command=command,
            args=args,
            ready=ready,
        )

    return start
