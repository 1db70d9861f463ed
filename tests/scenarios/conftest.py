"""The shared scenarios run once per transport and broker.

``stack`` is package-scoped and parametrised over (Celery, taskiq) x (Redis,
RabbitMQ): for each pair one worker process is started through the plugin's own
command line, on a queue of its own, and every scenario runs against it with a
caller application built in this process from the same module. pytest groups
the scenarios by pair, so each worker starts once. ``variant`` starts, on first
use, a second worker of the pair for a variant of the application (other trace
propagators, an unavailable verifier); ``Stack.quiet_caller`` is a caller on a
queue no worker reads, to see what it put on the broker.
"""

import json
import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, contextmanager
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
from tests.scenarios.transports import TRANSPORTS, Transport
from tests.scenarios.wire import Queued, drop_queue, take_queued
from tests.support.brokers import RABBITMQ, REDIS, Broker, require_broker
from tests.support.worker import WorkerProcess, spawn, stop_all

AUTH_RETRIES = 2
"""Retries of a task whose auth provider is unavailable (ERROR), in every worker."""

AUTH_RETRY_DELAY = 0.2
"""Seconds between those retries."""

_OWN_PREFIXES = (
    "SPAKKY_CELERY__",
    "SPAKKY_TASKIQ__",
    "SPAKKY_DISPATCH_AUTH__",
    "SPAKKY_CRYPTOGRAPHY_",
    "SPAKKY_AUTH_",
)

VARIANT_WORKER_ENV: dict[str, dict[str, str]] = {
    "b3": {},
    "untraced": {
        "SPAKKY_CRYPTOGRAPHY_VERIFICATION_AVAILABLE": "false",
        "SPAKKY_DISPATCH_AUTH__MAX_RETRIES": "1",
        "SPAKKY_DISPATCH_AUTH__RETRY_DELAY": "0.5",
    },
}
"""What each variant worker runs with besides the pair's settings.

The ``untraced`` worker (no trace propagator) also has an unavailable snapshot
verifier and one auth retry: one extra worker serves both scenarios.
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class Stack:
    """A running worker for one transport and broker, and a caller application."""

    transport: Transport
    broker: Broker
    variant: str
    """Which variant of the scenario application both run (``app``, ``b3``, ...)."""

    app: SpakkyApplication
    """The caller: the scenario application, started in this process."""

    worker: WorkerProcess
    folder: Path
    env: dict[str, str]
    """Settings of the caller and the worker (less the worker's own extras)."""

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

    @contextmanager
    def quiet_caller(
        self, variant: str = "app", *, signer: bool = True
    ) -> Iterator[tuple[SpakkyApplication, Callable[[], list[Queued]]]]:
        """A caller on a queue no worker reads, and what takes its messages off.

        The queue is deleted afterwards.
        """
        queue = f"spakky-scn-quiet-{uuid.uuid4().hex[:12]}"
        env = {**self.env, **self.transport.env(self.broker, queue)}
        with settings(env):
            app = build_app(self.transport.name, variant, signer=signer)
        try:
            yield app, lambda: take_queued(self.transport, self.broker, queue)
        finally:
            app.stop()
            drop_queue(self.transport, self.broker, queue)


def own_settings(env: Mapping[str, str]) -> pytest.MonkeyPatch:
    """Make ``env`` the only settings of ours in this process until ``undo()``."""
    patch = pytest.MonkeyPatch()
    for name in list(os.environ):
        if name.upper().startswith(_OWN_PREFIXES):
            patch.delenv(name)
    for name, value in env.items():
        patch.setenv(name, value)
    return patch


@contextmanager
def settings(env: Mapping[str, str]) -> Iterator[None]:
    """Make ``env`` the only settings of ours in this process for the block."""
    patch = own_settings(env)
    try:
        yield
    finally:
        patch.undo()


@contextmanager
def running(
    transport: Transport,
    broker: Broker,
    folder: Path,
    variant: str = "app",
) -> Iterator[Stack]:
    """A worker of ``variant`` on a queue of its own, and a caller for it.

    Both start with the pair's settings alone; this process's environment is
    left as it was. The queue is deleted afterwards.
    """
    (folder / "attempts").mkdir()
    queue = f"spakky-scn-{uuid.uuid4().hex[:12]}"
    env = {
        **transport.env(broker, queue),
        "SPAKKY_CRYPTOGRAPHY_SNAPSHOT_KEY": Key(size=32).b64_urlsafe,
        "SPAKKY_AUTH_SNAPSHOT_PROPAGATION_ENABLED": "true",
        "SPAKKY_DISPATCH_AUTH__MAX_RETRIES": str(AUTH_RETRIES),
        "SPAKKY_DISPATCH_AUTH__RETRY_DELAY": str(AUTH_RETRY_DELAY),
        RECORDS_VARIABLE: str(folder / "records.jsonl"),
        ATTEMPTS_VARIABLE: str(folder / "attempts"),
        AUTH_RUNS_VARIABLE: str(folder / "auth-runs.jsonl"),
    }
    with ExitStack() as stop:
        stop.callback(drop_queue, transport, broker, queue)
        patch = own_settings(env)
        try:
            worker = stop.enter_context(
                spawn(
                    transport.worker_argv(transport.variant_target(variant)),
                    {**env, **VARIANT_WORKER_ENV.get(variant, {})},
                    folder / "worker.log",
                    ready=transport.worker_ready,
                )
            )
            app = build_app(transport.name, variant)
        finally:
            patch.undo()
        stop.callback(app.stop)
        yield Stack(
            transport=transport,
            broker=broker,
            variant=variant,
            app=app,
            worker=worker,
            folder=folder,
            env=env,
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
    with running(transport, broker, folder) as started, settings(started.env):
        yield started


@pytest.fixture(scope="package")
def variant(
    stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str], Stack]]:
    """A worker of a variant of the application beside ``stack``, started once."""
    started: dict[str, Stack] = {}
    with ExitStack() as stop:

        def get(name: str) -> Stack:
            if name not in started:
                folder = tmp_path_factory.mktemp(
                    f"{stack.transport.name}-{stack.broker.name}-{name}"
                )
                started[name] = stop.enter_context(
                    running(stack.transport, stack.broker, folder, name)
                )
            return started[name]

        yield get
        # ``stack`` stops right after: let every worker of the pair shut down at once.
        workers = [stack, *started.values()]
        stop_all(each.worker.process for each in workers)


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
