"""Replay: a snapshot runs only the message it was signed for, and only while fresh."""

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from spakky.auth import (
    AUTH_CONTEXT_CONTEXT_KEY,
    AuthClaim,
    AuthInvocation,
    AuthorizationReasonCode,
    SnapshotSignRequest,
)
from spakky.plugins.cryptography import (
    CryptographyAuthProvider,
    CryptographyAuthProviderConfig,
)

import spakky.dispatch.auth.message_binding as binding_module
from spakky.dispatch.auth import (
    BINDING_CLAIM,
    SNAPSHOT_HEADER,
    MessageBinding,
    TaskAuthConfig,
    TaskAuthenticationRequiredError,
    arguments_digest,
    bound_identity,
    issued_at,
)
from spakky.dispatch.core import TaskDispatcher, dispatch_options
from spakky.dispatch.core.adapter import TaskCall, TaskMessage

from .auth_fakes import Harness, ScriptedChecker, ScriptedVerifier, caller
from .auth_handlers import ArgumentHandler
from .conftest import AppFactory

INVALID = AuthorizationReasonCode.SNAPSHOT_INVALID
EXPIRED = AuthorizationReasonCode.SNAPSHOT_EXPIRED
ADMIN = caller(roles=("admin",))


def _refused(harness: Harness, message: TaskMessage) -> TaskAuthenticationRequiredError:
    with pytest.raises(TaskAuthenticationRequiredError) as caught:
        harness.run(message)
    return caught.value


def _runs(harness: Harness) -> list[str]:
    return harness.get(ArgumentHandler).runs


def _refund(harness: Harness, order: str = "o-1", amount: int = 10) -> TaskMessage:
    return harness.dispatch(ArgumentHandler, "refund", order, amount, as_=ADMIN)


def _signed_at(harness: Harness, when: datetime, ttl: timedelta) -> TaskMessage:
    """A refund signed by the caller's provider as if its clock read ``when``."""
    config = harness.get(CryptographyAuthProviderConfig)
    clock, lifetime = config.clock, config.snapshot_ttl
    config.clock, config.snapshot_ttl = (lambda: when), ttl
    try:
        return _refund(harness)
    finally:
        config.clock, config.snapshot_ttl = clock, lifetime


def _ago(seconds: float) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=seconds)


# --- bound to one message -------------------------------------------------------


def test_exact_redelivery_expect_runs_each_time(make_app: AppFactory) -> None:
    """The same message again (same id, same arguments) runs: at-least-once holds."""
    harness = make_app(ArgumentHandler, ScriptedChecker)
    message = _refund(harness)
    assert harness.run(message) == {"refunded": "o-1", "amount": 10}
    assert harness.run(message) == {"refunded": "o-1", "amount": 10}
    assert _runs(harness) == ["refund", "refund"]


def test_replay_with_new_id_expect_challenge_invalid(make_app: AppFactory) -> None:
    """The snapshot on a copy of the message under another id refuses it."""
    harness = make_app(ArgumentHandler, ScriptedChecker)
    message = _refund(harness)
    error = _refused(harness, replace(message, task_id="another-id"))
    assert error.decision.reason_code is INVALID
    assert error.decision.reason == (
        f"{message.task_name}: the snapshot was signed for another message "
        "(other message id)"
    )
    assert _runs(harness) == []


def test_replay_onto_other_protected_task_expect_challenge_invalid(
    make_app: AppFactory,
) -> None:
    """A refund's snapshot cannot run delete_user, even with the refund's id."""
    harness = make_app(ArgumentHandler, ScriptedChecker)
    message = _refund(harness)
    target = harness.binding(ArgumentHandler, "delete_user").name
    for task_id in (message.task_id, "fresh-id"):
        forged = replace(message, task_name=target, args=("u-1",), task_id=task_id)
        error = _refused(harness, forged)
        assert error.decision.reason_code is INVALID
        assert "(other task, " in str(error.decision.reason)
    assert _runs(harness) == []


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (("o-1", 99_999_999), {}),
        (("o-2", 10), {}),
        (("o-1",), {"amount": 10}),
        (("o-1", 10.0), {}),
        (("o-1", True), {}),
        ((), {"order_id": "o-1", "amount": 10}),
    ],
    ids=["amount", "order", "moved-to-kwargs", "float", "bool", "all-kwargs"],
)
def test_replay_with_changed_arguments_expect_challenge_invalid(
    make_app: AppFactory, args: tuple[object, ...], kwargs: dict[str, object]
) -> None:
    """Any change of the arguments, even of type only, refuses the message."""
    harness = make_app(ArgumentHandler, ScriptedChecker)
    message = _refund(harness)
    error = _refused(harness, replace(message, args=args, kwargs=kwargs))
    assert error.decision.reason_code is INVALID
    assert str(error.decision.reason).endswith("(other arguments)")
    assert _runs(harness) == []


def test_arguments_after_serializer_round_trip_expect_runs(
    make_app: AppFactory,
) -> None:
    """Tuples arrive as lists and key order may change: the digest is the same."""
    harness = make_app(ArgumentHandler, ScriptedChecker)
    sent_args = ("a", (1, 2.5, None), {"z": [True], "a": ("x",)})
    message = harness.dispatch(ArgumentHandler, "anything", *sent_args, as_=ADMIN)
    received = replace(message, args=["a", [1, 2.5, None], {"a": ["x"], "z": [True]}])
    assert harness.run(received) == {
        "args": ["a", [1, 2.5, None], {"a": ["x"], "z": [True]}],
        "kwargs": {},
    }


def test_received_arguments_not_plain_expect_challenge_invalid(
    make_app: AppFactory,
) -> None:
    """A worker given arguments no caller could have signed (bytes) refuses them."""
    harness = make_app(ArgumentHandler, ScriptedChecker)
    message = harness.dispatch(ArgumentHandler, "anything", "x", as_=ADMIN)
    error = _refused(harness, replace(message, args=(b"x",)))
    assert error.decision.reason_code is INVALID
    assert "the received argument 0 is of type bytes" in str(error.decision.reason)


def test_message_without_id_expect_challenge_invalid(make_app: AppFactory) -> None:
    """A protected task run without a message id cannot be checked: refused."""
    harness = make_app(ArgumentHandler, ScriptedChecker)
    error = _refused(harness, replace(_refund(harness), task_id=None))
    assert error.decision.reason_code is INVALID
    assert "the message has no id" in str(error.decision.reason)


def test_worker_of_other_audience_expect_challenge_invalid(
    make_app: AppFactory, auth_env: pytest.MonkeyPatch
) -> None:
    """A snapshot signed for one application is refused by another's workers."""
    caller_app = make_app(ArgumentHandler, ScriptedChecker)
    message = _refund(caller_app)
    auth_env.setenv("SPAKKY_DISPATCH_AUTH__AUDIENCE", "billing")
    worker = make_app(ArgumentHandler, ScriptedChecker)
    error = _refused(worker, message)
    assert error.decision.reason_code is INVALID
    assert str(error.decision.reason).endswith("(other audience)")
    assert _runs(worker) == []
    assert caller_app.run(message) == {"refunded": "o-1", "amount": 10}


def test_unbound_snapshot_expect_challenge_invalid(make_app: AppFactory) -> None:
    """A validly signed snapshot without a binding (an older version's) is refused."""
    harness = make_app(ArgumentHandler, ScriptedChecker)
    message = _refund(harness)
    unbound = harness.get(CryptographyAuthProvider).sign_snapshot(
        SnapshotSignRequest(auth_context=replace(ADMIN, credential_carrier=None))
    )
    forged = replace(
        message, headers={SNAPSHOT_HEADER: unbound.base64url_canonical_json()}
    )
    error = _refused(harness, forged)
    assert error.decision.reason_code is INVALID
    assert "not bound to a message" in str(error.decision.reason)


@pytest.mark.parametrize(
    "claims",
    [
        (AuthClaim(name=BINDING_CLAIM, value="{not json"),),
        (AuthClaim(name=BINDING_CLAIM, value=7),),
        (
            AuthClaim(name=BINDING_CLAIM, value="{}"),
            AuthClaim(name=BINDING_CLAIM, value="{}"),
        ),
    ],
    ids=["unreadable", "not-a-string", "twice"],
)
def test_verifier_returning_odd_binding_expect_challenge_invalid(
    make_app: AppFactory, claims: tuple[AuthClaim, ...]
) -> None:
    """Whatever a verifier returns, only exactly one well-formed binding counts."""
    harness = make_app(ArgumentHandler, ScriptedChecker, ScriptedVerifier, crypto=False)
    harness.get(ScriptedVerifier).answer = replace(
        ADMIN, credential_carrier=None, claims=claims
    )
    message = harness.dispatch(ArgumentHandler, "refund", "o-1", 10)
    forged = replace(message, headers={SNAPSHOT_HEADER: "opaque"})
    error = _refused(harness, forged)
    assert error.decision.reason_code is INVALID
    assert "not bound to a message" in str(error.decision.reason)


def test_envelope_without_issue_time_expect_challenge_invalid(
    make_app: AppFactory,
) -> None:
    """A verifier may accept an envelope whose issue time we cannot read: refused."""
    harness = make_app(ArgumentHandler, ScriptedChecker, ScriptedVerifier, crypto=False)
    message = harness.dispatch(ArgumentHandler, "refund", "o-1", 10)
    binding = MessageBinding(
        audience="spakky",
        task_name=message.task_name,
        task_id=str(message.task_id),
        arguments=arguments_digest(message.args, message.kwargs),
    )
    harness.get(ScriptedVerifier).answer = replace(
        ADMIN,
        credential_carrier=None,
        claims=(AuthClaim(name=BINDING_CLAIM, value=binding.claim()),),
    )
    error = _refused(harness, replace(message, headers={SNAPSHOT_HEADER: "opaque"}))
    assert error.decision.reason_code is INVALID
    assert "no readable issue time" in str(error.decision.reason)
    assert _runs(harness) == []


def test_admitted_identity_expect_binding_claim_stripped(
    make_app: AppFactory,
) -> None:
    """Neither the body nor the checkers see the binding claim."""
    harness = make_app(ArgumentHandler, ScriptedChecker)
    identity = replace(ADMIN, claims=(AuthClaim(name="plan", value="gold"),))
    message = harness.dispatch(ArgumentHandler, "delete_user", "u-1", as_=identity)
    assert harness.run(message) == {"deleted": "u-1"}
    [request] = harness.get(ScriptedChecker).requests
    assert request.auth_context.claims == (  # type: ignore[attr-defined]
        AuthClaim(name="plan", value="gold"),
    )
    assert harness.call(ArgumentHandler, "claims", as_=identity) == {"claims": ["plan"]}


def test_binding_compared_in_constant_time_expect_compare_digest_used(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker's comparison of the binding goes through ``hmac.compare_digest``."""
    harness = make_app(ArgumentHandler, ScriptedChecker)
    compared: list[tuple[bytes, bytes]] = []
    original = binding_module.hmac.compare_digest

    def spy(left: Any, right: Any) -> bool:
        compared.append((left, right))
        return original(left, right)

    monkeypatch.setattr(binding_module.hmac, "compare_digest", spy)
    message = _refund(harness)
    harness.run(message)
    with pytest.raises(TaskAuthenticationRequiredError):
        harness.run(replace(message, args=("o-1", 11)))
    assert len(compared) == 2
    assert compared[0][0] == compared[0][1]
    assert compared[1][0] != compared[1][1]


# --- fresh: maximum age and issue time ---------------------------------------------


def test_snapshot_over_max_age_expect_challenge_expired(make_app: AppFactory) -> None:
    """Issued 10 minutes ago with a 100-year lifetime: older than 300 s, refused."""
    harness = make_app(ArgumentHandler, ScriptedChecker)
    message = _signed_at(harness, _ago(600), timedelta(days=365 * 100))
    error = _refused(harness, message)
    assert error.decision.reason_code is EXPIRED
    assert "SPAKKY_DISPATCH_AUTH__MAX_AGE is 300 s" in str(error.decision.reason)
    assert _runs(harness) == []


def test_snapshot_within_max_age_expect_runs(make_app: AppFactory) -> None:
    """Issued 4 minutes ago: within the default maximum age, runs."""
    harness = make_app(ArgumentHandler, ScriptedChecker)
    message = _signed_at(harness, _ago(240), timedelta(hours=1))
    assert harness.run(message) == {"refunded": "o-1", "amount": 10}


def test_max_age_setting_expect_used(
    make_app: AppFactory, auth_env: pytest.MonkeyPatch
) -> None:
    """``SPAKKY_DISPATCH_AUTH__MAX_AGE`` and ``CLOCK_LEEWAY`` bound the age."""
    auth_env.setenv("SPAKKY_DISPATCH_AUTH__MAX_AGE", "5")
    auth_env.setenv("SPAKKY_DISPATCH_AUTH__CLOCK_LEEWAY", "0")
    harness = make_app(ArgumentHandler, ScriptedChecker)
    error = _refused(harness, _signed_at(harness, _ago(10), timedelta(hours=1)))
    assert error.decision.reason_code is EXPIRED
    assert harness.run(_signed_at(harness, _ago(1), timedelta(hours=1))) is not None


def test_snapshot_from_the_future_expect_challenge_invalid(
    make_app: AppFactory,
) -> None:
    """Issued beyond the clock leeway in the future (year 2999 too): refused."""
    harness = make_app(ArgumentHandler, ScriptedChecker)
    for when in (datetime(2999, 1, 1, tzinfo=UTC), _ago(-120)):
        error = _refused(harness, _signed_at(harness, when, timedelta(days=1)))
        assert error.decision.reason_code is INVALID
        assert "in the future" in str(error.decision.reason)
    assert _runs(harness) == []


def test_snapshot_slightly_ahead_expect_runs_within_leeway(
    make_app: AppFactory,
) -> None:
    """A caller whose clock is 20 s ahead is within the 30 s leeway."""
    harness = make_app(ArgumentHandler, ScriptedChecker)
    message = _signed_at(harness, _ago(-20), timedelta(hours=1))
    assert harness.run(message) == {"refunded": "o-1", "amount": 10}


def test_delayed_call_expect_max_age_counted_from_its_start(
    make_app: AppFactory,
) -> None:
    """With an eta, the maximum age counts from the eta, not from signing."""
    harness = make_app(ArgumentHandler, ScriptedChecker)
    config = harness.get(CryptographyAuthProviderConfig)
    config.clock, config.snapshot_ttl = (lambda: _ago(600)), timedelta(hours=1)
    binding = harness.binding(ArgumentHandler, "refund")
    harness.context.set_context_value(AUTH_CONTEXT_CONTEXT_KEY, ADMIN)
    try:
        dispatcher = harness.get(TaskDispatcher)
        with dispatch_options(eta=_ago(200)):
            delayed = dispatcher.message(binding, ("o-1", 10), {})
        plain = dispatcher.message(binding, ("o-1", 10), {})
    finally:
        harness.context.clear_context()
    assert harness.run(delayed) == {"refunded": "o-1", "amount": 10}
    assert _refused(harness, plain).decision.reason_code is EXPIRED


def test_issued_at_expect_envelope_time_or_none() -> None:
    """The issue time is read from our envelope format; anything else gives None."""
    provider = CryptographyAuthProvider(CryptographyAuthProviderConfig())
    before = time.time()
    envelope = provider.sign_snapshot(
        SnapshotSignRequest(auth_context=replace(ADMIN, credential_carrier=None))
    ).base64url_canonical_json()
    read = issued_at(envelope)
    assert read is not None
    assert before - 1 <= read <= time.time() + 1
    for junk in ("", "%%%", "bnVsbA", "W10", "eyJpc3N1ZWRfYXQiOjF9"):  # null, [], 1
        assert issued_at(junk) is None
    naive = "eyJpc3N1ZWRfYXQiOiIyMDMwLTAxLTAxVDAwOjAwOjAwIn0"  # 2030-01-01T00:00:00
    assert issued_at(naive) == datetime(2030, 1, 1, tzinfo=UTC).timestamp()


def test_bound_identity_for_call_expect_same_checks_as_the_worker(
    make_app: AppFactory,
) -> None:
    """``bound_identity`` works on its own: what a custom endpoint would call."""
    harness = make_app(ArgumentHandler, ScriptedChecker)
    message = _refund(harness)
    envelope = message.headers[SNAPSHOT_HEADER]
    verified = harness.get(CryptographyAuthProvider).verify_snapshot(
        envelope, AuthInvocation(boundary="task", operation=message.task_name)
    )
    assert [claim.name for claim in verified.claims] == [BINDING_CLAIM]
    call = TaskCall(
        task=harness.registry.get(message.task_name),
        task_id=message.task_id,
        args=message.args,
    )
    config = harness.get(TaskAuthConfig)
    admitted = bound_identity(verified, call, envelope, config)
    assert admitted.subject.id == "user-42"
    assert admitted.claims == ()
    with pytest.raises(TaskAuthenticationRequiredError):
        bound_identity(verified, replace(call, args=("o-1", 1)), envelope, config)
