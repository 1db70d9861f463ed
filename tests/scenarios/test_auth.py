"""Scenarios: signed auth snapshots, worker-side authorization, fail-closed."""

import asyncio
from typing import Any

import pytest
from spakky.auth import (
    AuthContext,
    AuthorizationDecisionState,
    AuthorizationReasonCode,
    AuthSubject,
    CredentialCarrier,
    CredentialCarrierKind,
    CredentialCarrierLocation,
)

from spakky.dispatch.auth import (
    AbstractTaskAuthRefusedError,
    TaskAuthenticationRequiredError,
    TaskAuthorizationDeniedError,
    TaskAuthUnavailableError,
)
from tests.scenarios.apps.handlers import AUTH_RUNS_VARIABLE, AccountHandler
from tests.scenarios.conftest import AUTH_RETRIES, Stack, acting_as

pytestmark = pytest.mark.broker

TIMEOUT = 30
TOKEN = "tok_live_5e1a9c3f7b2d4e6a8c0b1d3f5a7c9e2b"
"""The caller's raw bearer token: must never reach the worker."""


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


def _refused[E: AbstractTaskAuthRefusedError](kind: type[E], handle: Any) -> E:
    with pytest.raises(kind) as caught:
        handle.get(timeout=TIMEOUT)
    assert type(caught.value) is kind, "the refusal class was rebuilt on the caller"
    return caught.value


def test_scenario_auth_outcomes_expect_same_decisions_on_each_transport(
    stack: Stack,
) -> None:
    """A valid snapshot runs as the caller; CHALLENGE, DENY and ERROR fail closed.

    Missing snapshot: CHALLENGE, never retried. Missing role: DENY. Permission
    service down: ERROR, retried ``AUTH_RETRIES`` times, then refused. Only
    admitted bodies run, and the raw token never reaches the worker.
    """
    handler: Any = stack.app.container.get(AccountHandler)
    reader, admin = _identity("reader"), _identity("reader", "admin")
    with acting_as(stack.app, reader):
        mine = handler.whoami()
        denied = handler.close_account("acc-1")
        unavailable = handler.statement()
        unprotected = handler.ping()

        async def dispatch_async() -> Any:
            return await handler.whoami_async()

        mine_async = asyncio.run(dispatch_async())
    with acting_as(stack.app, admin):
        closed = handler.close_account("acc-2")
    with acting_as(stack.app, None):
        anonymous = handler.whoami()

    value = mine.get(timeout=TIMEOUT)
    assert value == {"subject": "user-7", "roles": ["reader"], "carrier": False}
    assert mine_async.get(timeout=TIMEOUT)["subject"] == "user-7"
    assert closed.get(timeout=TIMEOUT) == "closed acc-2"
    assert unprotected.get(timeout=TIMEOUT) == {"subject": None}

    missing = _refused(TaskAuthenticationRequiredError, anonymous)
    assert missing.decision.state is AuthorizationDecisionState.CHALLENGE
    assert missing.decision.reason_code is AuthorizationReasonCode.SNAPSHOT_MISSING
    deny = _refused(TaskAuthorizationDeniedError, denied)
    assert deny.decision.state is AuthorizationDecisionState.DENY
    assert deny.decision.reason_code is AuthorizationReasonCode.INSUFFICIENT_ROLE
    error = _refused(TaskAuthUnavailableError, unavailable)
    assert error.decision.state is AuthorizationDecisionState.ERROR

    runs = stack.read(AUTH_RUNS_VARIABLE)
    assert sorted(run["ran"] for run in runs if "ran" in run) == [
        "close_account",
        "ping",
        "whoami",
        "whoami_async",
    ]
    assert [run for run in runs if "attempt" in run] == [{"attempt": "statement"}] * (
        AUTH_RETRIES + 1
    )
    assert TOKEN not in stack.worker.log
    # Refusals are expected outcomes on both transports: one line, no traceback.
    for refused in (anonymous, denied):
        assert f"[{refused.task_id}] raised expected: " in stack.worker.log
