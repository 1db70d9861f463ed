"""Replaying signed auth snapshots on real workers: Celery and taskiq, Redis and RabbitMQ.

Someone who can read and write the broker copies a protected message's
snapshot header onto messages of their own: another id, another task, other
arguments, or publishes the same message again; or a caller's signer clock or
lifetime is wrong. Each attack is published through the transport's own
sender (a genuine message on the wire), after a good message and before
another: the attack must be refused (CHALLENGE, its body never runs), the
worker must stay up, and the good messages must run. Only the exact
redelivery runs again, as at-least-once delivery needs. A worker given an
empty, malformed or short snapshot key must refuse to start, without printing
the key.
"""

import os
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from spakky.auth import AUTH_CONTEXT_CONTEXT_KEY, AuthContext, AuthSubject
from spakky.core.application.application import SpakkyApplication
from spakky.plugins.cryptography import CryptographyAuthProviderConfig, Key

from spakky.dispatch.auth import (
    SNAPSHOT_HEADER,
    TaskAuthenticationRequiredError,
)
from spakky.dispatch.core import TaskDispatcher
from spakky.dispatch.core.adapter import ITaskSender, TaskMessage, TaskRegistry
from tests.faults.apps.replay import PaymentHandler, build_app
from tests.faults.ledger import LEDGER_VARIABLE, Ledger
from tests.faults.report import FaultReport
from tests.scenarios.transports import TRANSPORTS, Transport
from tests.support.brokers import RABBITMQ, REDIS, require_broker
from tests.support.worker import WorkerProcess, quiet_options, spawn

pytestmark = pytest.mark.broker

TIMEOUT = 30
TARGET = "tests.faults.apps.replay:{}_app"
ADMIN = AuthContext(
    subject=AuthSubject(id="user-7"), issuer="https://issuer.example", roles=("admin",)
)
"""The signed-in caller whose snapshots are replayed (an admin, so a replay onto
``delete_user`` would pass its role check if nothing else stopped it)."""

_OWN_PREFIXES = (
    "SPAKKY_CELERY__",
    "SPAKKY_TASKIQ__",
    "SPAKKY_DISPATCH_AUTH__",
    "SPAKKY_CRYPTOGRAPHY_",
    "SPAKKY_AUTH_",
)
STACKS = [(t, b) for t in TRANSPORTS for b in (REDIS, RABBITMQ)]


def worker_argv(transport: Transport) -> list[str]:
    """The transport's worker command for the replay application."""
    argv = [
        sys.executable,
        "-m",
        transport.cli,
        "worker",
        TARGET.format(transport.name),
    ]
    if transport.name == "celery":
        return [*argv, "--pool", "solo", *quiet_options("worker")]
    return [*argv, "--workers", "1"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayStack:
    """A worker of the replay application, and a caller in this process."""

    name: str
    app: SpakkyApplication
    worker: WorkerProcess
    ledger: Ledger

    def call(self, method: str, *args: object) -> TaskMessage:
        """The message ADMIN's call would send (signed, not yet published)."""
        container = self.app.container
        binding = container.get(TaskRegistry).for_method(PaymentHandler, method)
        assert binding is not None
        context = self.app.application_context
        context.clear_context()
        context.set_context_value(AUTH_CONTEXT_CONTEXT_KEY, ADMIN)
        try:
            return container.get(TaskDispatcher).message(binding, args, {})
        finally:
            context.clear_context()

    def publish(self, message: TaskMessage) -> Any:
        """Put ``message`` on the broker as it is, through the transport's sender."""
        return self.app.container.get(ITaskSender).send(message)  # type: ignore[type-abstract]

    def refusals(self, task_id: str | None, code: str) -> int:
        """How many refusals with ``code`` the worker logged for ``task_id``."""
        pattern = rf"\[{re.escape(str(task_id))}\] raised expected: .*{code}"
        return len(re.findall(pattern, self.worker.log))

    def alive(self) -> bool:
        return self.worker.process.poll() is None


@pytest.fixture(
    scope="module",
    params=STACKS,
    ids=[f"{transport.name}-{broker.name}" for transport, broker in STACKS],
)
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ReplayStack]:
    """One worker per transport and broker, on a queue of its own."""
    transport, broker = request.param
    require_broker(broker)
    folder = tmp_path_factory.mktemp(f"replay-{transport.name}-{broker.name}")
    env = {
        **transport.env(broker, f"spakky-replay-{uuid.uuid4().hex[:12]}"),
        "SPAKKY_CRYPTOGRAPHY_SNAPSHOT_KEY": Key(size=32).b64_urlsafe,
        "SPAKKY_AUTH_SNAPSHOT_PROPAGATION_ENABLED": "true",
        LEDGER_VARIABLE: str(folder / "ledger.txt"),
    }
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.upper().startswith(_OWN_PREFIXES):
                patch.delenv(name)
        for name, value in env.items():
            patch.setenv(name, value)
        with spawn(
            worker_argv(transport),
            env,
            folder / "worker.log",
            ready=transport.worker_ready,
        ) as worker:
            app = build_app(transport.name)
            try:
                yield ReplayStack(
                    name=f"{transport.name}-{broker.name}",
                    app=app,
                    worker=worker,
                    ledger=Ledger(folder / "ledger.txt"),
                )
            finally:
                app.stop()


def _job(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}"


def _refused(handle: Any, code: str) -> TaskAuthenticationRequiredError:
    with pytest.raises(TaskAuthenticationRequiredError) as caught:
        handle.get(timeout=TIMEOUT)
    assert caught.value.decision.reason_code.value == code
    return caught.value


@dataclass(slots=True)
class Jobs:
    """What one attack test sent: jobs that must never run, and good ones."""

    never: list[str]
    good: list[str]


@contextmanager
def _between_good_messages(
    stack: ReplayStack, report: FaultReport, attack: str
) -> Iterator[Jobs]:
    """Run the attack between two good refunds; both must complete, the worker
    must stay alive, and no job of ``never`` may have run."""
    jobs = Jobs(never=[], good=[_job("good")])
    first = stack.publish(stack.call("refund", jobs.good[0], 10))
    assert first.get(timeout=TIMEOUT) == "refunded 10"
    with report.fault(f"snapshot replay: {attack} ({stack.name})"):
        yield jobs
        jobs.good.append(_job("good"))
        handle = stack.publish(stack.call("refund", jobs.good[-1], 10))
        assert handle.get(timeout=TIMEOUT) == "refunded 10"
        assert stack.alive()
        done = stack.ledger.done()
        assert [job for job in jobs.never if done[job]] == []
    report.tasks(jobs.good, stack.ledger.done())


def test_replay_same_task_new_id_expect_refused(
    stack: ReplayStack, fault_report: FaultReport
) -> None:
    """(a) The refund again under a new id: CHALLENGE SNAPSHOT_INVALID."""
    with _between_good_messages(stack, fault_report, "same task, new id") as jobs:
        job = _job("copy")
        original = stack.call("refund", job, 10)
        copy = replace(original, task_id=str(uuid.uuid4()))
        jobs.never.append(job)
        _refused(stack.publish(copy), "SNAPSHOT_INVALID")


def test_replay_onto_other_protected_task_expect_refused(
    stack: ReplayStack, fault_report: FaultReport
) -> None:
    """(b) A refund's snapshot on ``delete_user`` (the caller is an admin)."""
    with _between_good_messages(stack, fault_report, "other protected task") as jobs:
        job = _job("delete")
        refund = stack.call("refund", _job("unused"), 10)
        target = stack.call("delete_user", job)
        jobs.never.append(job)
        _refused(
            stack.publish(replace(target, headers=dict(refund.headers))),
            "SNAPSHOT_INVALID",
        )
        forged = replace(target, headers=dict(refund.headers), task_id=refund.task_id)
        _refused(stack.publish(forged), "SNAPSHOT_INVALID")


def test_replay_changed_arguments_same_id_expect_refused(
    stack: ReplayStack, fault_report: FaultReport
) -> None:
    """(c) The refund that ran, again under its id, for 99,999,999."""
    with _between_good_messages(stack, fault_report, "changed arguments") as jobs:
        job = _job("refund")
        original = stack.call("refund", job, 10)
        assert stack.publish(original).get(timeout=TIMEOUT) == "refunded 10"
        jobs.good.append(job)
        stack.publish(replace(original, args=(job, 99_999_999)))
        other = _job("other")
        jobs.never.append(other)
        stack.publish(replace(original, args=(other, 10)))
        _wait_for(lambda: stack.refusals(original.task_id, "SNAPSHOT_INVALID") == 2)
        assert stack.ledger.done()[job] == 1


def test_replay_snapshot_of_unprotected_task_expect_none_to_take(
    stack: ReplayStack, fault_report: FaultReport
) -> None:
    """(d) An unprotected task's message carries no snapshot any more; a refund
    sent with its headers has none and is refused as SNAPSHOT_MISSING."""
    with _between_good_messages(stack, fault_report, "from unprotected task") as jobs:
        ping = stack.call("ping", _job("ping"))
        assert SNAPSHOT_HEADER not in ping.headers
        assert stack.publish(ping).get(timeout=TIMEOUT) == "pong"
        jobs.good.append(str(ping.args[0]))
        job = _job("refund")
        forged = replace(stack.call("refund", job, 10), headers=dict(ping.headers))
        jobs.never.append(job)
        _refused(stack.publish(forged), "SNAPSHOT_MISSING")


def test_replay_exact_redelivery_expect_runs_again(
    stack: ReplayStack, fault_report: FaultReport
) -> None:
    """(e) The same message again (same id, same arguments) runs: at-least-once
    delivery is kept; this is what the maximum age bounds."""
    with _between_good_messages(stack, fault_report, "exact redelivery") as jobs:
        job = _job("again")
        message = stack.call("refund", job, 10)
        assert stack.publish(message).get(timeout=TIMEOUT) == "refunded 10"
        jobs.good.append(job)
        stack.publish(message)
        assert stack.ledger.wait_for("done", [job]) == {job}
        _wait_for(lambda: stack.ledger.done()[job] == 2)
        assert stack.refusals(message.task_id, "SNAPSHOT") == 0


STALE = [
    ("100-year lifetime, 10 min old", -600, timedelta(days=36500), "SNAPSHOT_EXPIRED"),
    ("expired lifetime", -600, timedelta(minutes=5), "SNAPSHOT_EXPIRED"),
    ("issued in year 2900+", 365 * 86400 * 900, timedelta(days=1), "SNAPSHOT_INVALID"),
    ("issued 5 min ahead", 300, timedelta(days=1), "SNAPSHOT_INVALID"),
]


@pytest.mark.parametrize(
    ("row", "offset", "lifetime", "code"), STALE, ids=[row[0] for row in STALE]
)
def test_replay_stale_or_future_snapshot_expect_refused(
    stack: ReplayStack,
    fault_report: FaultReport,
    row: str,
    offset: float,
    lifetime: timedelta,
    code: str,
) -> None:
    """(f) Signed 10 minutes ago with a 100-year lifetime (older than the
    300 s maximum age), expired, or issued in the future: refused."""
    config = stack.app.container.get(CryptographyAuthProviderConfig)
    clock, ttl = config.clock, config.snapshot_ttl
    with _between_good_messages(stack, fault_report, row) as jobs:
        job = _job("stale")
        config.clock = lambda: datetime.now(UTC) + timedelta(seconds=offset)
        config.snapshot_ttl = lifetime
        try:
            message = stack.call("refund", job, 10)
        finally:
            config.clock, config.snapshot_ttl = clock, ttl
        jobs.never.append(job)
        _refused(stack.publish(message), code)


def _wait_for(condition: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(0.1)


SHORT_KEY = Key(size=16).b64_urlsafe
MALFORMED_KEY = "not*a*key*Zz%"
"""Nine base64url characters once the others are dropped: does not decode."""


@pytest.mark.parametrize("transport", TRANSPORTS, ids=lambda t: t.name)
@pytest.mark.parametrize(
    "key", ["", MALFORMED_KEY, SHORT_KEY], ids=["empty", "malformed", "16-bytes"]
)
def test_worker_with_unsafe_key_expect_refuses_to_start_without_key_in_output(
    transport: Transport, key: str, tmp_path: Path, fault_report: FaultReport
) -> None:
    """(g) The worker exits with an error naming the variable, not the key."""
    require_broker(REDIS)
    env = {
        **transport.env(REDIS, f"spakky-replay-{uuid.uuid4().hex[:12]}"),
        "SPAKKY_CRYPTOGRAPHY_SNAPSHOT_KEY": key,
    }
    variant = {"": "empty", MALFORMED_KEY: "malformed"}.get(key, "16 bytes")
    with fault_report.fault(f"unsafe snapshot key: {variant} ({transport.name})"):
        with spawn(worker_argv(transport), env, tmp_path / "w.log", ready=None) as run:
            code = run.process.wait(timeout=60)
        log = run.log
        assert code != 0
        assert "SPAKKY_CRYPTOGRAPHY_SNAPSHOT_KEY" in log
        assert "at least 32 random bytes" in log
        if key:
            assert key not in log
        assert "input_value" not in log
        assert "Traceback" not in log
