"""The shared scenarios run once per transport and broker.

``stack`` is package-scoped and parametrised over (Celery, taskiq) x (Redis,
RabbitMQ): for each pair one worker process is started through the plugin's own
command line, on a queue of its own, and every scenario runs against it with a
caller application built in this process from the same module. pytest groups
the scenarios by pair, so each worker starts once.
"""

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from spakky.auth import AUTH_CONTEXT_CONTEXT_KEY, AuthContext
from spakky.core.application.application import SpakkyApplication
from spakky.plugins.cryptography import Key

from tests.scenarios.apps.app import build_app
from tests.scenarios.apps.handlers import (
    ATTEMPTS_VARIABLE,
    AUTH_RUNS_VARIABLE,
    RECORDS_VARIABLE,
)
from tests.scenarios.transports import TRANSPORTS, Transport, drop_taskiq_queue
from tests.support.brokers import RABBITMQ, REDIS, Broker, require_broker
from tests.support.worker import WorkerProcess, spawn

AUTH_RETRIES = 2
"""Retries of a task whose auth provider is unavailable (ERROR), in every worker."""

_OWN_PREFIXES = (
    "SPAKKY_CELERY__",
    "SPAKKY_TASKIQ__",
    "SPAKKY_DISPATCH_AUTH__",
    "SPAKKY_CRYPTOGRAPHY_",
    "SPAKKY_AUTH_",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Stack:
    """A running worker for one transport and broker, and a caller application."""

    transport: Transport
    broker: Broker
    app: SpakkyApplication
    """The caller: the scenario application, started in this process."""

    worker: WorkerProcess
    folder: Path
    env: dict[str, str]
    """Environment of the worker (and of this process while the stack lives)."""

    def read(self, variable: str) -> list[dict[str, object]]:
        """The JSON lines written so far to the file named by ``variable``."""
        path = Path(self.env[variable])
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    def attempts(self, key: str) -> int:
        """How many times ``OrderHandler.charge`` ran for ``key``."""
        path = Path(self.env[ATTEMPTS_VARIABLE]) / key
        return len(path.read_text().splitlines()) if path.exists() else 0

    def scheduler(self) -> AbstractContextManager[WorkerProcess]:
        """Run the transport's scheduler (Celery beat, taskiq's scheduler)."""
        folder = self.folder / f"scheduler-{uuid.uuid4().hex[:6]}"
        folder.mkdir()
        return spawn(
            self.transport.scheduler_argv(folder),
            self.env,
            folder / "scheduler.log",
            ready=self.transport.scheduler_ready,
        )


STACKS = [
    (transport, broker) for transport in TRANSPORTS for broker in (REDIS, RABBITMQ)
]


@pytest.fixture(
    scope="package",
    params=STACKS,
    ids=[f"{transport.name}-{broker.name}" for transport, broker in STACKS],
)
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """One worker per transport and broker, shared by every scenario."""
    transport, broker = request.param
    require_broker(broker)
    folder = tmp_path_factory.mktemp(f"{transport.name}-{broker.name}")
    (folder / "attempts").mkdir()
    queue = f"spakky-scn-{uuid.uuid4().hex[:12]}"
    env = {
        **transport.env(broker, queue),
        "SPAKKY_CRYPTOGRAPHY_SNAPSHOT_KEY": Key(size=32).b64_urlsafe,
        "SPAKKY_AUTH_SNAPSHOT_PROPAGATION_ENABLED": "true",
        "SPAKKY_DISPATCH_AUTH__MAX_RETRIES": str(AUTH_RETRIES),
        "SPAKKY_DISPATCH_AUTH__RETRY_DELAY": "0.2",
        RECORDS_VARIABLE: str(folder / "records.jsonl"),
        ATTEMPTS_VARIABLE: str(folder / "attempts"),
        AUTH_RUNS_VARIABLE: str(folder / "auth-runs.jsonl"),
    }
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.upper().startswith(_OWN_PREFIXES):
                patch.delenv(name)
        for name, value in env.items():
            patch.setenv(name, value)
        with spawn(
            transport.worker_argv(),
            env,
            folder / "worker.log",
            ready=transport.worker_ready,
        ) as worker:
            app = build_app(transport.name)
            try:
                yield Stack(
                    transport=transport,
                    broker=broker,
                    app=app,
                    worker=worker,
                    folder=folder,
                    env=env,
                )
            finally:
                app.stop()
    if transport.name == "taskiq":
        drop_taskiq_queue(broker, queue)


@contextmanager
def acting_as(app: SpakkyApplication, identity: AuthContext | None) -> Iterator[None]:
    """Make ``identity`` the caller's AuthContext for the calls in the block."""
    context = app.application_context
    context.clear_context()
    if identity is not None:
        context.set_context_value(AUTH_CONTEXT_CONTEXT_KEY, identity)
    try:
        yield
    finally:
        context.clear_context()
