"""Scenarios: signed auth snapshots, worker-side authorization, fail-closed.

The caller (this process) and the worker share ``SPAKKY_CRYPTOGRAPHY_SNAPSHOT_KEY``;
the caller's bearer token lives only in its ``AuthContext.credential_carrier``.
Forged snapshots are sent through the transport's own sender, as a genuine
message on the wire.
"""

import asyncio
import base64
import json
import os
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
import redis
from spakky.auth import (
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
    ProtectedScheduleError,
    TaskAuthenticationRequiredError,
    TaskAuthorizationDeniedError,
    TaskAuthUnavailableError,
)
from spakky.dispatch.core.adapter import (
    ITaskHandle,
    ITaskSender,
    TaskDispatcher,
    TaskRegistry,
)
from tests.scenarios.apps.handlers import AUTH_RUNS_VARIABLE, AccountHandler
from tests.scenarios.conftest import (
    AUTH_RETRIES,
    AUTH_RETRY_DELAY,
    Stack,
    acting_as,
)
from tests.support.worker import spawn

pytestmark = pytest.mark.broker

TIMEOUT = 30
TOKEN = "tok_live_5e1a9c3f7b2d4e6a8c0b1d3f5a7c9e2b"
"""The caller's raw bearer token: must never reach the broker, worker or backend."""

CHALLENGE = AuthorizationDecisionState.CHALLENGE
DENY = AuthorizationDecisionState.DENY
ERROR = AuthorizationDecisionState.ERROR


def _identity(*roles: str) -> AuthContext:
    return AuthContext(
        subject=AuthSubject(id="user-7", display_name="Grace"),
        issuer="https://issuer.example",
        tenant="acme",
        roles=roles,
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


def _refused[E: AbstractTaskAuthRefusedError](kind: type[E], handle: Any) -> E:
    """Wait for ``handle`` and return the refusal it failed with."""
    with pytest.raises(kind) as caught:
        handle.get(timeout=TIMEOUT)
    error = caught.value
    assert type(error) is kind, "the refusal class was rebuilt on the caller"
    assert TOKEN not in str(error)
    return error


def _send_with_snapshot(
    app: SpakkyApplication,
    method: str,
    args: tuple[object, ...],
    forge: Callable[[str], str],
) -> ITaskHandle[Any]:
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
    sender = container.get(ITaskSender)  # type: ignore[type-abstract]
    return sender.send(replace(message, headers=headers))


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


def _retries_logged(log: str, task_id: str) -> int:
    """Retry lines of ``task_id`` (Celery: ``[id] retry:``, taskiq: ``[id] retry 1/2``)."""
    return len(re.findall(rf"\[{re.escape(task_id)}\] retry\b", log))


def _stored_result(stack: Stack, task_id: str) -> bytes:
    client = redis.Redis.from_url(stack.broker.backend_url)
    stored: bytes | None = client.get(stack.transport.result_key.format(task_id))
    return stored or b""


FORGED: dict[str, tuple[Callable[[str], str], str]] = {
    "malformed": (lambda _: "not-a-snapshot", "SNAPSHOT_INVALID"),
    "tampered": (_tampered, "SNAPSHOT_INVALID"),
    "foreign-key": (
        lambda _: _signed_by(lambda c: setattr(c, "snapshot_key", Key(size=32))),
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
"""Snapshots a caller did not sign as they are: how, and the reason expected."""


def test_scenario_auth_outcomes_expect_same_decisions_on_each_transport(
    stack: Stack,
) -> None:
    """A valid snapshot runs as the caller; CHALLENGE, DENY and ERROR fail closed.

    Missing, malformed, tampered, foreign-key and expired snapshots: CHALLENGE,
    never retried. Missing role: DENY, never retried, one expected-outcome log
    line. Permission service down: ERROR, retried ``AUTH_RETRIES`` times the
    configured delay apart, then refused. An unprotected task ignores a stray
    snapshot. Only admitted bodies run, and the raw token reaches neither the
    worker's log nor the stored results.
    """
    handler: Any = stack.app.container.get(AccountHandler)
    with acting_as(stack.app, READER):
        mine = handler.whoami()
        unavailable = handler.statement()  # retried while this test goes on
        denied = handler.close_account("acc-1")
        unprotected = handler.ping()

        async def dispatch_async() -> Any:
            return await handler.whoami_async()

        mine_async = asyncio.run(dispatch_async())
    with acting_as(stack.app, ADMIN):
        closed = handler.close_account("acc-2")
    with acting_as(stack.app, None):
        anonymous = handler.whoami()

    value = mine.get(timeout=TIMEOUT)
    assert value == {
        "subject": "user-7",
        "roles": ["reader"],
        "carrier": False,
        "pid": value["pid"],
    }
    assert value["pid"] != os.getpid()
    assert mine_async.get(timeout=TIMEOUT)["subject"] == "user-7"
    assert closed.get(timeout=TIMEOUT) == "closed acc-2"
    assert unprotected.get(timeout=TIMEOUT)["subject"] is None
    garbage = _send_with_snapshot(stack.app, "ping", (), lambda _: "garbage")
    assert garbage.get(timeout=TIMEOUT)["subject"] is None

    missing = _refused(TaskAuthenticationRequiredError, anonymous)
    assert missing.decision.state is CHALLENGE
    assert missing.decision.reason_code is AuthorizationReasonCode.SNAPSHOT_MISSING
    forged = {
        case: (_send_with_snapshot(stack.app, "close_account", ("acc-3",), forge), code)
        for case, (forge, code) in FORGED.items()
    }
    for case, (handle, code) in forged.items():
        error = _refused(TaskAuthenticationRequiredError, handle)
        assert error.decision.state is CHALLENGE, case
        assert error.decision.reason_code.value == code, case
        assert _retries_logged(stack.worker.log, handle.task_id) == 0, case

    deny = _refused(TaskAuthorizationDeniedError, denied)
    assert deny.decision.state is DENY
    assert deny.decision.reason_code is AuthorizationReasonCode.INSUFFICIENT_ROLE
    assert "ROLE 'admin'" in str(deny.decision.reason)
    assert _retries_logged(stack.worker.log, denied.task_id) == 0

    error = _refused(TaskAuthUnavailableError, unavailable)
    assert error.decision.state is ERROR
    assert "IPermissionChecker raised ConnectionError" in str(error.decision.reason)
    assert _retries_logged(stack.worker.log, unavailable.task_id) == AUTH_RETRIES
    if stack.transport.failed_state is not None:
        for refused in (denied, unavailable):
            assert refused.state == stack.transport.failed_state

    runs = stack.read(AUTH_RUNS_VARIABLE)
    assert sorted(run["ran"] for run in runs if "ran" in run) == [
        "close_account",
        "ping",
        "ping",
        "whoami",
        "whoami_async",
    ]
    attempts = [run for run in runs if "attempt" in run]
    assert [run["attempt"] for run in attempts] == ["statement"] * (AUTH_RETRIES + 1)
    times = [float(run["at"]) for run in attempts]
    assert all(b - a >= 0.95 * AUTH_RETRY_DELAY for a, b in pairwise(times)), times
    log = stack.worker.log
    assert TOKEN not in log
    # Refusals are expected outcomes on both transports: one line, no traceback.
    for refused in (anonymous, denied):
        assert f"[{refused.task_id}] raised expected: " in log
        assert f"[{refused.task_id}] raised unexpected" not in log
    every = [mine, unavailable, denied, unprotected, closed, anonymous, garbage]
    for handle in every + [handle for handle, _ in forged.values()]:
        stored = _stored_result(stack, handle.task_id)
        assert stored, f"no stored result for {handle.task_id}"
        assert TOKEN.encode() not in stored


def test_scenario_auth_verifier_unavailable_expect_bounded_retries_then_error(
    stack: Stack, variant: Callable[[str], Stack]
) -> None:
    """The worker's verifier is unavailable: ERROR, retried once, then failed.

    An unprotected task runs as usual; the protected body never runs.
    """
    degraded = variant("untraced")  # its worker's verifier is unavailable
    handler: Any = degraded.app.container.get(AccountHandler)
    with acting_as(degraded.app, READER):
        protected = handler.whoami()
        unprotected = handler.ping()
    error = _refused(TaskAuthUnavailableError, protected)
    assert unprotected.get(timeout=TIMEOUT)["subject"] is None

    assert error.decision.state is ERROR
    assert (
        error.decision.reason_code
        is AuthorizationReasonCode.VERIFICATION_PROVIDER_UNAVAILABLE
    )
    assert _retries_logged(degraded.worker.log, protected.task_id) == 1
    assert degraded.read(AUTH_RUNS_VARIABLE) == [{"ran": "ping"}]


def test_scenario_auth_snapshot_on_the_wire_expect_no_raw_credential(
    stack: Stack,
) -> None:
    """The bytes on the broker carry the signed snapshot, never the token."""
    token_forms = [TOKEN.encode(), base64.b64encode(TOKEN.encode()).rstrip(b"=")]
    with stack.quiet_caller() as (app, take):
        handler: Any = app.container.get(AccountHandler)
        with acting_as(app, ADMIN):
            handler.whoami()
            handler.close_account("acc-9")
        messages = take()
    assert len(messages) == 2
    for message in messages:
        assert isinstance(message.headers.get(SNAPSHOT_HEADER), str)
        assert SNAPSHOT_HEADER.encode() in message.raw
        assert b"acc-9" in message.raw or b"whoami" in message.raw
        for form in token_forms:
            assert form not in message.raw


def test_scenario_auth_no_signer_expect_clear_error_and_nothing_sent(
    stack: Stack,
) -> None:
    """Propagation on, a caller, no signer: the call fails and nothing is sent.

    A call without an identity is sent as usual, without a snapshot.
    """
    with stack.quiet_caller(signer=False) as (app, take):
        handler: Any = app.container.get(AccountHandler)
        with acting_as(app, None):
            handler.ping()
        with (
            acting_as(app, READER),
            pytest.raises(AuthSnapshotSignerMissingError) as caught,
        ):
            handler.whoami()
        messages = take()
    assert "IAuthContextSnapshotSigner" in str(caught.value)
    assert len(messages) == 1
    assert SNAPSHOT_HEADER.encode() not in messages[0].raw
    assert b"AccountHandler.ping" in messages[0].raw


def test_scenario_auth_protected_schedule_expect_worker_refuses_to_start(
    stack: Stack,
) -> None:
    """A protected @schedule method stops the worker at startup, naming it.

    The command line prints the error's own message, then the method.
    """
    transport = stack.transport
    target = f"tests.scenarios.apps.protected_schedule:{transport.name}_app"
    log_path = stack.folder / f"protected-schedule-{os.urandom(3).hex()}.log"
    with spawn(transport.worker_argv(target), stack.env, log_path, ready=None) as run:
        run.process.wait(timeout=60)
        log = run.log
    assert run.process.returncode != 0
    assert ProtectedScheduleError.message in log
    assert "LedgerMaintenance.reconcile requires ROLE 'ops'" in log
    assert transport.worker_ready not in log
