"""End to end: signed auth snapshots and fail-closed authorization on a real worker.

Each test runs on Redis and on RabbitMQ. The dispatching process (this one) and
the worker share ``SPAKKY_CRYPTOGRAPHY_SNAPSHOT_KEY``; the caller's bearer token
lives only in its ``AuthContext.credential_carrier``.
"""

import asyncio
import base64
import json
import os
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import redis
from kombu import Connection
from spakky.auth import (
    AUTH_CONTEXT_CONTEXT_KEY,
    AuthContext,
    AuthorizationDecisionState,
    AuthorizationReasonCode,
    AuthSubject,
    CredentialCarrier,
    CredentialCarrierKind,
    CredentialCarrierLocation,
    SnapshotSignRequest,
)
from spakky.core.application.application import SpakkyApplication
from spakky.plugins.cryptography import (
    CryptographyAuthProvider,
    CryptographyAuthProviderConfig,
    Key,
)

from spakky.dispatch.auth import (
    SNAPSHOT_HEADER,
    AbstractTaskAuthRefusedError,
    AuthSnapshotSignerMissingError,
    TaskAuthenticationRequiredError,
    TaskAuthorizationDeniedError,
    TaskAuthUnavailableError,
)
from spakky.dispatch.celery import CeleryTaskResult
from spakky.dispatch.core import TaskDispatcher
from spakky.dispatch.core.adapter import ITaskSender, TaskRegistry
from tests.conftest import WorkerFactory
from tests.e2e.apps.auth import build_app
from tests.e2e.apps.auth_handlers import AccountHandler
from tests.support.brokers import REDIS, Broker

TARGET = "tests.e2e.apps.auth:celery"
SOLO = ("-P", "solo")
TOKEN = "tok_live_9d1f7c3a5b2e8f60a4c1d7e3b9f2a6c8"
"""The caller's raw bearer token: must never reach the broker, worker or backend."""

CHALLENGE = AuthorizationDecisionState.CHALLENGE
DENY = AuthorizationDecisionState.DENY
ERROR = AuthorizationDecisionState.ERROR

pytestmark = pytest.mark.broker


def _identity(*roles: str) -> AuthContext:
    return AuthContext(
        subject=AuthSubject(id="user-42", display_name="Ada"),
        issuer="https://issuer.example",
        tenant="acme",
        roles=roles or ("reader",),
        scopes=("accounts:read",),
        credential_carrier=CredentialCarrier(
            kind=CredentialCarrierKind.BEARER_TOKEN,
            location=CredentialCarrierLocation.AUTHORIZATION_HEADER,
            material=TOKEN,
            name="Authorization",
            scheme="Bearer",
        ),
    )


READER = _identity("reader")
ADMIN = _identity("reader", "admin")


@pytest.fixture
def auth_env(celery_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    """Propagation on and one snapshot key, here and (inherited) in the worker."""
    key = Key(size=32).b64_urlsafe
    monkeypatch.setenv("SPAKKY_CRYPTOGRAPHY_SNAPSHOT_KEY", key)
    monkeypatch.setenv("SPAKKY_AUTH_SNAPSHOT_PROPAGATION_ENABLED", "true")
    for name in list(os.environ):
        if name.startswith(("SPAKKY_DISPATCH_AUTH__", "SPAKKY_CRYPTOGRAPHY_VERIF")):
            monkeypatch.delenv(name)
    return key


@pytest.fixture
def app(auth_env: str) -> Iterator[SpakkyApplication]:
    application = build_app()
    yield application
    application.stop()


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


def _refused[E: AbstractTaskAuthRefusedError](kind: type[E], result: Any) -> E:
    """Wait for ``result`` and return the refusal it failed with."""
    with pytest.raises(kind) as caught:
        result.get(timeout=30)
    error = caught.value
    assert type(error) is kind, "the refusal class was rebuilt on the caller"
    assert TOKEN not in str(error)
    return error


def _send_with_snapshot(
    app: SpakkyApplication,
    method: str,
    args: tuple[object, ...],
    forge: Callable[[str], str],
) -> CeleryTaskResult[Any]:
    """Dispatch as READER through the real pipeline, with a forged snapshot header."""
    container = app.container
    binding = container.get(TaskRegistry).for_method(AccountHandler, method)
    assert binding is not None
    with acting_as(app, READER):
        message = container.get(TaskDispatcher).message(binding, args, {})
    headers = {
        **message.headers,
        SNAPSHOT_HEADER: forge(message.headers.get(SNAPSHOT_HEADER, "")),
    }
    result = container.get(ITaskSender).send(replace(message, headers=headers))
    assert isinstance(result, CeleryTaskResult)
    return result


def _tampered(envelope: str) -> str:
    """The same signed snapshot with the admin role added to its payload."""
    payload = json.loads(
        base64.urlsafe_b64decode(envelope + "=" * (-len(envelope) % 4))
    )
    payload["roles"] = [*payload["roles"], "admin"]
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _signed_by(adjust: Callable[[CryptographyAuthProviderConfig], None]) -> str:
    """READER's snapshot signed by a provider configured by ``adjust``."""
    config = CryptographyAuthProviderConfig()
    adjust(config)
    snapshot = CryptographyAuthProvider(config).sign_snapshot(
        SnapshotSignRequest(auth_context=replace(READER, credential_carrier=None))
    )
    return snapshot.base64url_canonical_json()


def _node() -> tuple[str, str]:
    """A node name of its own, so the worker's pidbox never clashes with another's."""
    return ("-n", f"auth-{uuid.uuid4().hex[:8]}@%h")


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _result_meta(broker: Broker, task_id: str) -> bytes:
    client = redis.Redis.from_url(broker.backend_url)
    return client.get(f"celery-task-meta-{task_id}") or b""


def _retries_logged(log: str, task_id: str) -> int:
    return len(re.findall(rf"\[{re.escape(task_id)}\] retry:", log))


def test_auth_outcomes_on_worker_expect_each_row_of_the_table(
    app: SpakkyApplication,
    worker: WorkerFactory,
    broker: Broker,
    tmp_path: Path,
) -> None:
    """Valid, CHALLENGE (missing/invalid/tampered/foreign key/expired), DENY, ERROR.

    One worker, retry policy 2 x 1 s: every outcome is told apart on the caller
    from the result handle, no body runs unless admitted, no token anywhere.
    """
    runs, attempts = tmp_path / "runs.txt", tmp_path / "attempts.txt"
    handler = app.container.get(AccountHandler)
    env = {
        "SPAKKY_DISPATCH_AUTH__MAX_RETRIES": "2",
        "SPAKKY_DISPATCH_AUTH__RETRY_DELAY": "1.0",
        "AUTH_E2E_RUNS": str(runs),
        "AUTH_E2E_ATTEMPTS": str(attempts),
    }
    with worker(TARGET, *SOLO, *_node(), env=env) as process:
        # ALLOW: the worker runs the task as the caller, without the credential.
        with acting_as(app, READER):
            mine = handler.whoami()
            unavailable = handler.statement()  # retried while this test goes on
            denied = handler.close_account("acc-1")
            stray = handler.ping()

            async def dispatch_async() -> Any:
                return await handler.whoami_async()

            mine_async = asyncio.run(dispatch_async())
        with acting_as(app, ADMIN):
            closed = handler.close_account("acc-2")
        with acting_as(app, None):
            anonymous = handler.whoami()

        value = mine.get(timeout=30)
        assert value["subject"] == "user-42"
        assert value["roles"] == ["reader"]
        assert value["carrier"] is False
        assert value["worker_pid"] != os.getpid()
        assert mine_async.get(timeout=30)["subject"] == "user-42"
        assert closed.get(timeout=30) == "closed acc-2"

        # Unprotected task: no snapshot sent; a stray (garbage) one: unaffected.
        assert stray.get(timeout=30)["subject"] is None
        garbage = _send_with_snapshot(app, "ping", (), lambda _: "garbage")
        assert garbage.get(timeout=30)["subject"] is None

        # CHALLENGE: missing, malformed, tampered, foreign key, expired.
        missing = _refused(TaskAuthenticationRequiredError, anonymous)
        assert missing.decision.state is CHALLENGE
        assert missing.decision.reason_code is AuthorizationReasonCode.SNAPSHOT_MISSING
        forged = {
            "malformed": (lambda _: "not-a-snapshot", "SNAPSHOT_INVALID"),
            "tampered": (_tampered, "SNAPSHOT_INVALID"),
            "foreign-key": (
                lambda _: _signed_by(
                    lambda c: setattr(c, "snapshot_key", Key(size=32))
                ),
                "SNAPSHOT_INVALID",
            ),
            "expired": (
                lambda _: _signed_by(
                    lambda c: setattr(
                        c, "clock", lambda: datetime.now(UTC) - timedelta(hours=1)
                    )
                ),
                "SNAPSHOT_EXPIRED",
            ),
        }
        sent = {
            case: (_send_with_snapshot(app, "close_account", ("acc-3",), forge), code)
            for case, (forge, code) in forged.items()
        }
        for case, (result, code) in sent.items():
            error = _refused(TaskAuthenticationRequiredError, result)
            assert error.decision.state is CHALLENGE, case
            assert error.decision.reason_code.value == code, case
            assert _retries_logged(process.log, result.task_id) == 0, case

        # DENY: refused once, never retried.
        deny = _refused(TaskAuthorizationDeniedError, denied)
        assert deny.decision.state is DENY
        assert deny.decision.reason_code is AuthorizationReasonCode.INSUFFICIENT_ROLE
        assert "ROLE 'admin'" in str(deny.decision.reason)
        assert denied.state == "FAILURE"
        assert _retries_logged(process.log, denied.task_id) == 0
        # A refusal is an expected outcome: one INFO line, no error traceback.
        assert f"[{denied.task_id}] raised expected: " in process.log
        assert f"[{denied.task_id}] raised unexpected" not in process.log

        # ERROR: the permission checker is down; 2 retries 1 s apart, then failure.
        error = _refused(TaskAuthUnavailableError, unavailable)
        assert error.decision.state is ERROR
        assert "IPermissionChecker raised ConnectionError" in str(error.decision.reason)
        assert unavailable.state == "FAILURE"
        times = [float(line) for line in _lines(attempts)]
        assert len(times) == 3
        assert all(later - earlier >= 0.95 for earlier, later in pairwise(times))
        assert _retries_logged(process.log, unavailable.task_id) == 2

        log = process.log

    # Only admitted bodies ran; the token reached neither the worker nor the backend.
    assert sorted(_lines(runs)) == [
        "close_account",
        "ping",
        "ping",
        "whoami",
        "whoami_async",
    ]
    assert TOKEN not in log
    every = [
        mine,
        unavailable,
        denied,
        stray,
        closed,
        anonymous,
        *(r for r, _ in sent.values()),
    ]
    for result in every:
        meta = _result_meta(broker, result.task_id)
        assert meta, f"no stored result for {result.task_id}"
        assert TOKEN.encode() not in meta


def test_auth_verifier_unavailable_expect_bounded_retries_then_error(
    app: SpakkyApplication, worker: WorkerFactory, tmp_path: Path
) -> None:
    """The worker's verifier is unavailable: ERROR, retried once, then failed."""
    handler = app.container.get(AccountHandler)
    runs = tmp_path / "runs.txt"
    env = {
        "SPAKKY_CRYPTOGRAPHY_VERIFICATION_AVAILABLE": "false",
        "SPAKKY_DISPATCH_AUTH__MAX_RETRIES": "1",
        "SPAKKY_DISPATCH_AUTH__RETRY_DELAY": "0.5",
        "AUTH_E2E_RUNS": str(runs),
    }
    with worker(TARGET, *SOLO, *_node(), env=env) as process:
        with acting_as(app, READER):
            result = handler.whoami()
            unprotected = handler.ping()
        error = _refused(TaskAuthUnavailableError, result)
        assert unprotected.get(timeout=30)["subject"] is None
        log = process.log
    assert error.decision.state is ERROR
    assert (
        error.decision.reason_code
        is AuthorizationReasonCode.VERIFICATION_PROVIDER_UNAVAILABLE
    )
    assert _retries_logged(log, result.task_id) == 1
    assert _lines(runs) == ["ping"]


def _queued(broker: Broker, queue: str) -> list[bytes]:
    """Every message waiting in ``queue``, as the broker holds it (consumed)."""
    if broker is REDIS:
        client = redis.Redis.from_url(broker.url)
        stored: list[bytes] = client.lrange(queue, 0, -1)
        client.delete(queue)
        bodies = [base64.b64decode(json.loads(entry)["body"]) for entry in stored]
        return [
            entry + b"\n" + body for entry, body in zip(stored, bodies, strict=True)
        ]
    found: list[bytes] = []
    with Connection(broker.url) as connection:
        channel = connection.default_channel
        while (message := channel.basic_get(queue=queue, no_ack=True)) is not None:
            body = message.body  # py-amqp decodes utf-8 bodies to str
            data = body.encode() if isinstance(body, str) else bytes(body)
            found.append(data + repr(message.properties).encode())
    return found


def test_auth_snapshot_on_the_wire_expect_no_raw_credential(
    app: SpakkyApplication, broker: Broker, celery_env: dict[str, str]
) -> None:
    """The bytes on the broker carry the signed snapshot, never the token."""
    queue = celery_env["SPAKKY_CELERY__DEFAULT_QUEUE"]
    handler = app.container.get(AccountHandler)
    with acting_as(app, ADMIN):
        handler.whoami()
        handler.close_account("acc-9")
    messages = _queued(broker, queue)
    assert len(messages) == 2
    token_forms = [TOKEN.encode(), base64.b64encode(TOKEN.encode()).rstrip(b"=")]
    for raw in messages:
        assert SNAPSHOT_HEADER.encode() in raw
        assert b"acc-9" in raw or b"whoami" in raw
        for form in token_forms:
            assert form not in raw


def test_auth_no_signer_expect_clear_error_and_nothing_sent(
    auth_env: str, broker: Broker, celery_env: dict[str, str]
) -> None:
    """Propagation on, a caller, no signer: the call fails and the queue stays empty."""
    app = build_app(signer=False)
    try:
        handler = app.container.get(AccountHandler)
        with acting_as(app, None):
            handler.ping()  # no identity: sent, without a snapshot
        with (
            acting_as(app, READER),
            pytest.raises(AuthSnapshotSignerMissingError) as caught,
        ):
            handler.whoami()
    finally:
        app.stop()
    assert "IAuthContextSnapshotSigner" in str(caught.value)
    messages = _queued(broker, celery_env["SPAKKY_CELERY__DEFAULT_QUEUE"])
    assert len(messages) == 1
    assert SNAPSHOT_HEADER.encode() not in messages[0]
    assert b"AccountHandler.ping" in messages[0]


def test_auth_protected_schedule_expect_worker_refuses_to_start(
    worker: WorkerFactory,
) -> None:
    """A protected @schedule method stops the worker at startup, naming it."""
    with worker(
        "tests.e2e.apps.auth_schedule:celery", *SOLO, *_node(), ready=None
    ) as process:
        process.process.wait(timeout=60)
        log = process.log
    assert process.process.returncode != 0
    assert "ProtectedScheduleError" in log
    assert "LedgerMaintenance.reconcile requires ROLE 'ops'" in log
    assert "ready." not in log
