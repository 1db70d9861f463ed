"""Worker side: verify, re-seed, check every requirement, fail-closed, clean up."""

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from spakky.auth import (
    AUTH_CONTEXT_CONTEXT_KEY,
    AsyncAuthorizationAspect,
    AuthContext,
    AuthorizationAspect,
    AuthorizationDecision,
    AuthorizationDecisionState,
    AuthorizationReasonCode,
    AuthorizationRequest,
    MissingAuthContextSnapshotError,
    PermissionCheckRequest,
    RelationCheckRequest,
    SnapshotSignRequest,
)
from spakky.plugins.cryptography import (
    CryptographyAuthProvider,
    CryptographyAuthProviderConfig,
    Key,
)

import spakky.dispatch.auth.propagator as propagator_module
from spakky.dispatch.auth import (
    SNAPSHOT_HEADER,
    AbstractTaskAuthRefusedError,
    RequirementCheck,
    TaskAuthConfig,
    TaskAuthenticationRequiredError,
    TaskAuthorizationDeniedError,
    TaskAuthorizer,
    TaskAuthPlan,
    TaskAuthUnavailableError,
)
from spakky.dispatch.core.adapter import TaskBinding, TaskCall, TaskMessage

from .auth_fakes import (
    TOKEN,
    Harness,
    ScriptedChecker,
    ScriptedVerifier,
    caller,
    with_headers,
)
from .auth_handlers import AuditHandler, ReportHandler
from .conftest import AppFactory

ADMIN = caller(roles=("reader", "admin"), scopes=("reports:read", "reports:write"))

CHALLENGE = AuthorizationDecisionState.CHALLENGE
DENY = AuthorizationDecisionState.DENY
ERROR = AuthorizationDecisionState.ERROR


def _refused[E: AbstractTaskAuthRefusedError](
    harness: Harness, kind: type[E], message: TaskMessage
) -> E:
    with pytest.raises(kind) as caught:
        harness.run(message)
    return caught.value


def _signed(adjust: Callable[[CryptographyAuthProviderConfig], None]) -> str:
    """A snapshot of the caller signed by a provider configured by ``adjust``."""
    config = CryptographyAuthProviderConfig()
    adjust(config)
    snapshot = CryptographyAuthProvider(config).sign_snapshot(
        SnapshotSignRequest(auth_context=caller())
    )
    return snapshot.base64url_canonical_json()


def _tampered(envelope: str, **changes: object) -> str:
    padded = envelope + "=" * (-len(envelope) % 4)
    payload = json.loads(base64.urlsafe_b64decode(padded))
    payload.update(changes)
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _runs(harness: Harness) -> list[str]:
    return harness.get(ReportHandler).runs


# --- ALLOW: runs as the caller --------------------------------------------------


def test_valid_snapshot_expect_body_runs_as_caller_without_credential(
    make_app: AppFactory,
) -> None:
    """The body sees the caller's re-seeded identity, never its credential."""
    harness = make_app(ReportHandler, ScriptedChecker)
    seen = harness.call(ReportHandler, "whoami", as_=caller())
    assert seen == {
        "subject": "user-42",
        "roles": ["reader"],
        "scopes": ["reports:read"],
        "carrier": False,
    }


def test_valid_snapshot_async_task_expect_body_runs_as_caller(
    make_app: AppFactory,
) -> None:
    """Async tasks are admitted the same way, on the invoker's event loop."""
    harness = make_app(ReportHandler, ScriptedChecker)
    seen = harness.call(ReportHandler, "whoami_async", as_=caller())
    assert seen is not None
    assert seen["subject"] == "user-42"


def test_every_requirement_allowed_expect_body_runs(make_app: AppFactory) -> None:
    """Role, scope, permission, policy and relation all ALLOW: the body runs."""
    harness = make_app(ReportHandler, ScriptedChecker)
    for method in ("purge", "write", "read", "export", "transfer", "purge_and_write"):
        harness.call(ReportHandler, method, as_=ADMIN)
    assert _runs(harness) == [
        "purge",
        "write",
        "read",
        "export",
        "transfer",
        "purge_and_write",
    ]


def test_requirements_evaluated_expect_checkers_asked_with_declared_refs(
    make_app: AppFactory,
) -> None:
    """Each checker port gets the requirement's refs and the verified identity."""
    harness = make_app(ReportHandler, ScriptedChecker)
    checker = harness.get(ScriptedChecker)
    for method in ("read", "export", "transfer"):
        harness.call(ReportHandler, method, as_=caller())
    read, export, transfer = checker.requests
    assert isinstance(read, PermissionCheckRequest)
    assert (read.permission, read.resource, read.tenant) == (
        "reports.read",
        "report",
        "acme",
    )
    assert isinstance(export, AuthorizationRequest)
    assert (export.resource, export.action, export.tenant) == (
        "report",
        "export",
        "acme",
    )
    assert isinstance(transfer, RelationCheckRequest)
    assert (transfer.relation, transfer.resource) == ("owner", "report:1")
    assert read.auth_context.subject.id == "user-42"
    assert read.auth_context.credential_carrier is None


def test_class_level_requirement_expect_enforced(make_app: AppFactory) -> None:
    """A requirement on the handler class protects each of its tasks."""
    harness = make_app(AuditHandler, ScriptedChecker)
    _refused(
        harness,
        TaskAuthorizationDeniedError,
        harness.dispatch(AuditHandler, "audit", as_=caller()),
    )
    seen = harness.call(AuditHandler, "audit", as_=caller(roles=("auditor",)))
    assert seen is not None
    assert seen["subject"] == "user-42"


# --- CHALLENGE: no verifiable identity ------------------------------------------


def test_missing_snapshot_expect_challenge_and_body_not_run(
    make_app: AppFactory,
) -> None:
    """No header (the caller had no identity): CHALLENGE, SNAPSHOT_MISSING."""
    harness = make_app(ReportHandler, ScriptedChecker)
    error = _refused(
        harness,
        TaskAuthenticationRequiredError,
        harness.dispatch(ReportHandler, "whoami"),
    )
    assert error.decision.state is CHALLENGE
    assert error.decision.reason_code is AuthorizationReasonCode.SNAPSHOT_MISSING
    assert "ReportHandler.whoami" in str(error)
    assert _runs(harness) == []


def test_empty_snapshot_expect_challenge_missing(make_app: AppFactory) -> None:
    """An empty header value counts as no snapshot."""
    harness = make_app(ReportHandler, ScriptedChecker)
    message = with_headers(
        harness.dispatch(ReportHandler, "whoami"), {SNAPSHOT_HEADER: ""}
    )
    error = _refused(harness, TaskAuthenticationRequiredError, message)
    assert error.decision.reason_code is AuthorizationReasonCode.SNAPSHOT_MISSING


@pytest.mark.parametrize(
    ("forge", "code"),
    [
        (
            lambda valid: "definitely-not-a-snapshot",
            AuthorizationReasonCode.SNAPSHOT_INVALID,
        ),
        (
            lambda valid: _tampered(valid, roles=["admin"]),
            AuthorizationReasonCode.SNAPSHOT_INVALID,
        ),
        (
            lambda valid: _signed(lambda c: setattr(c, "snapshot_key", Key(size=32))),
            AuthorizationReasonCode.SNAPSHOT_INVALID,
        ),
        (
            lambda valid: _signed(
                lambda c: setattr(
                    c, "clock", lambda: datetime.now(UTC) - timedelta(hours=1)
                )
            ),
            AuthorizationReasonCode.SNAPSHOT_EXPIRED,
        ),
    ],
    ids=["malformed", "tampered", "other-key", "expired"],
)
def test_unverifiable_snapshot_expect_challenge_and_body_not_run(
    make_app: AppFactory,
    forge: Callable[[str], str],
    code: AuthorizationReasonCode,
) -> None:
    """Malformed, tampered, foreign-key or expired: CHALLENGE with its reason."""
    harness = make_app(ReportHandler, ScriptedChecker)
    message = harness.dispatch(ReportHandler, "purge", as_=caller())
    forged = with_headers(
        message, {SNAPSHOT_HEADER: forge(message.headers[SNAPSHOT_HEADER])}
    )
    error = _refused(harness, TaskAuthenticationRequiredError, forged)
    assert error.decision.reason_code is code
    assert _runs(harness) == []
    assert harness.get(ScriptedChecker).requests == []


def test_verifier_reporting_missing_expect_challenge_missing(
    make_app: AppFactory,
) -> None:
    """The verifier's own 'missing' verdict is a CHALLENGE too."""
    harness = make_app(ReportHandler, ScriptedVerifier, crypto=False)
    harness.get(ScriptedVerifier).answer = MissingAuthContextSnapshotError()
    message = with_headers(
        harness.dispatch(ReportHandler, "whoami"), {SNAPSHOT_HEADER: "x"}
    )
    error = _refused(harness, TaskAuthenticationRequiredError, message)
    assert error.decision.reason_code is AuthorizationReasonCode.SNAPSHOT_MISSING


def test_checker_answering_challenge_expect_challenge_with_its_code(
    make_app: AppFactory,
) -> None:
    """A checker's CHALLENGE refuses the task as CHALLENGE."""
    harness = make_app(ReportHandler, ScriptedChecker)
    harness.get(ScriptedChecker).script["PERMISSION:reports.read"] = (
        AuthorizationDecision.challenge(AuthorizationReasonCode.EXPIRED_CREDENTIAL)
    )
    error = _refused(
        harness,
        TaskAuthenticationRequiredError,
        harness.dispatch(ReportHandler, "read", as_=caller()),
    )
    assert error.decision.reason_code is AuthorizationReasonCode.EXPIRED_CREDENTIAL


# --- DENY: a requirement is not met ---------------------------------------------


def test_role_missing_expect_deny_not_retryable_and_body_not_run(
    make_app: AppFactory,
) -> None:
    """A DENY refuses the task for good: not a retryable error."""
    harness = make_app(ReportHandler, ScriptedChecker)
    error = _refused(
        harness,
        TaskAuthorizationDeniedError,
        harness.dispatch(ReportHandler, "purge", as_=caller()),
    )
    assert error.decision.state is DENY
    assert error.decision.reason_code is AuthorizationReasonCode.INSUFFICIENT_ROLE
    purge = harness.binding(ReportHandler, "purge").name
    assert error.decision.reason == f"{purge}: ROLE 'admin' was not allowed"
    assert not isinstance(error, TaskAuthUnavailableError)
    assert _runs(harness) == []


def test_second_requirement_denied_expect_deny_and_body_not_run(
    make_app: AppFactory,
) -> None:
    """Requirements are ANDed: the first that is not met refuses the task."""
    harness = make_app(ReportHandler, ScriptedChecker)
    admin_reader = caller(roles=("admin",), scopes=("reports:read",))
    error = _refused(
        harness,
        TaskAuthorizationDeniedError,
        harness.dispatch(ReportHandler, "purge_and_write", as_=admin_reader),
    )
    assert error.decision.reason_code is AuthorizationReasonCode.INSUFFICIENT_SCOPE
    assert _runs(harness) == []


# --- ERROR: verifier or checker unavailable ---------------------------------------


def test_verifier_unavailable_expect_retryable_error_with_configured_policy(
    make_app: AppFactory, auth_env: pytest.MonkeyPatch
) -> None:
    """The real verifier reports itself unavailable: ERROR, retry per config."""
    auth_env.setenv("SPAKKY_CRYPTOGRAPHY_VERIFICATION_AVAILABLE", "false")
    auth_env.setenv("SPAKKY_DISPATCH_AUTH__MAX_RETRIES", "5")
    auth_env.setenv("SPAKKY_DISPATCH_AUTH__RETRY_DELAY", "0.25")
    harness = make_app(ReportHandler, ScriptedChecker)
    error = _refused(
        harness,
        TaskAuthUnavailableError,
        harness.dispatch(ReportHandler, "whoami", as_=caller()),
    )
    assert error.decision.state is ERROR
    assert (
        error.decision.reason_code
        is AuthorizationReasonCode.VERIFICATION_PROVIDER_UNAVAILABLE
    )
    assert (error.max_retries, error.delay) == (5, 0.25)
    assert _runs(harness) == []


def test_no_verifier_registered_expect_error(make_app: AppFactory) -> None:
    """A worker without a verifier cannot admit protected tasks: ERROR."""
    harness = make_app(ReportHandler, crypto=False)
    message = with_headers(
        harness.dispatch(ReportHandler, "whoami"), {SNAPSHOT_HEADER: "x"}
    )
    error = _refused(harness, TaskAuthUnavailableError, message)
    assert "no IAuthContextSnapshotVerifier is registered" in str(error)


def test_verifier_raising_expect_error_without_its_text(make_app: AppFactory) -> None:
    """Any other verifier failure is ERROR; its message is not carried along."""
    harness = make_app(ReportHandler, ScriptedVerifier, crypto=False)
    harness.get(ScriptedVerifier).answer = RuntimeError(f"cannot verify {TOKEN}")
    message = with_headers(
        harness.dispatch(ReportHandler, "whoami"), {SNAPSHOT_HEADER: "x"}
    )
    error = _refused(harness, TaskAuthUnavailableError, message)
    assert "raised RuntimeError" in str(error)
    assert TOKEN not in str(error)
    assert TOKEN not in repr(error.args)
    assert error.__cause__ is None
    assert error.__suppress_context__


def test_verifier_returning_junk_expect_error(make_app: AppFactory) -> None:
    """A verifier answer that is not an AuthContext is never seeded."""
    harness = make_app(ReportHandler, ScriptedVerifier, crypto=False)
    harness.get(ScriptedVerifier).answer = {"sub": "user-42"}
    message = with_headers(
        harness.dispatch(ReportHandler, "whoami"), {SNAPSHOT_HEADER: "x"}
    )
    error = _refused(harness, TaskAuthUnavailableError, message)
    assert error.decision.reason_code is AuthorizationReasonCode.INTERNAL_ERROR
    assert "returned dict, not an AuthContext" in str(error)


def test_no_checker_registered_expect_error_and_body_not_run(
    make_app: AppFactory,
) -> None:
    """A requirement without its checker is ERROR; @protected needs none."""
    harness = make_app(ReportHandler)
    error = _refused(
        harness,
        TaskAuthUnavailableError,
        harness.dispatch(ReportHandler, "purge", as_=ADMIN),
    )
    assert "no IRoleChecker is registered" in str(error)
    assert harness.call(ReportHandler, "whoami", as_=ADMIN) is not None
    assert _runs(harness) == ["whoami"]


@pytest.mark.parametrize(
    ("answer", "text"),
    [
        (
            ConnectionError(f"policy engine down, token {TOKEN}"),
            "raised ConnectionError",
        ),
        ("ALLOW", "returned str, not an AuthorizationDecision"),
        (
            AuthorizationDecision.error(AuthorizationReasonCode.INTERNAL_ERROR),
            "was not allowed",
        ),
    ],
    ids=["raises", "junk", "error-decision"],
)
def test_checker_failing_expect_retryable_error(
    make_app: AppFactory, answer: object, text: str
) -> None:
    """A checker that raises, misanswers or answers ERROR: ERROR, retryable."""
    harness = make_app(ReportHandler, ScriptedChecker)
    harness.get(ScriptedChecker).script["POLICY:report"] = answer
    error = _refused(
        harness,
        TaskAuthUnavailableError,
        harness.dispatch(ReportHandler, "export", as_=caller()),
    )
    assert error.decision.state is ERROR
    assert text in str(error)
    assert TOKEN not in str(error)
    assert _runs(harness) == []


def test_check_of_unknown_kind_expect_error_never_allow() -> None:
    """A check no port evaluates (a kind from a newer spakky-auth) fails closed."""
    future = RequirementCheck(kind="GEOFENCE", ref="eu")  # type: ignore[arg-type]
    plan = TaskAuthPlan(task_name="m.H.run", checks=(future,))
    with pytest.raises(TaskAuthUnavailableError, match="no checker evaluates"):
        TaskAuthorizer(TaskAuthConfig()).authorize(plan, caller())


# --- scope hygiene and unprotected tasks ------------------------------------------


def test_unprotected_task_with_stray_snapshot_expect_unaffected(
    make_app: AppFactory,
) -> None:
    """Unprotected tasks ignore the header (valid or not) and see no identity."""
    harness = make_app(ReportHandler)
    stray = harness.dispatch(ReportHandler, "whoami", as_=caller()).headers
    plain = harness.dispatch(ReportHandler, "open_report", as_=caller())
    assert SNAPSHOT_HEADER not in plain.headers
    assert harness.run(with_headers(plain, dict(stray))) is None
    assert harness.run(with_headers(plain, {SNAPSHOT_HEADER: "garbage"})) is None
    public = harness.dispatch(ReportHandler, "public_report", as_=caller())
    assert harness.run(with_headers(public, dict(stray))) is None
    assert _runs(harness) == ["open_report", "open_report", "public_report"]


def test_needs_restore_expect_only_protected_tasks(make_app: AppFactory) -> None:
    """The worker enters the auth propagator for protected tasks only; called
    anyway for an unprotected task, it admits without looking at the header."""
    harness = make_app(ReportHandler)
    propagator = harness.propagator
    assert propagator.needs_restore(harness.binding(ReportHandler, "purge"))
    assert propagator.needs_restore(harness.binding(ReportHandler, "whoami_async"))
    unprotected = harness.binding(ReportHandler, "open_report")
    assert not propagator.needs_restore(unprotected)
    assert not propagator.needs_restore(harness.binding(ReportHandler, "public_report"))
    harness.context.clear_context()
    call = TaskCall(task=unprotected, task_id="id-1")
    with propagator.restore({SNAPSHOT_HEADER: "garbage"}, call):
        assert harness.context.get_context_value(AUTH_CONTEXT_CONTEXT_KEY) is None


def test_task_after_protected_task_expect_cleared_scope(make_app: AppFactory) -> None:
    """Each task starts from a cleared scope: no identity left by the previous one."""
    harness = make_app(ReportHandler, ScriptedChecker)
    assert harness.call(ReportHandler, "whoami", as_=caller()) is not None
    assert harness.call(ReportHandler, "open_report") is None


def test_body_error_expect_raised_as_is(make_app: AppFactory) -> None:
    """Once admitted, the task's own exception is not turned into an auth error."""
    harness = make_app(ReportHandler, ScriptedChecker)
    with pytest.raises(ValueError, match="the body failed"):
        harness.call(ReportHandler, "explode", as_=caller())
    assert _runs(harness) == ["explode"]


def test_scope_exit_expect_previous_identity_restored_also_on_error(
    make_app: AppFactory,
) -> None:
    """The seeded identity is removed after the task, whether it failed or not."""
    harness = make_app(ReportHandler, ScriptedChecker)
    message = harness.dispatch(ReportHandler, "whoami", as_=caller())
    envelope = message.headers[SNAPSHOT_HEADER]
    call = TaskCall(
        task=harness.binding(ReportHandler, "whoami"), task_id=message.task_id
    )
    context = harness.context
    context.clear_context()
    with harness.propagator.restore({SNAPSHOT_HEADER: envelope}, call):
        seeded = context.get_context_value(AUTH_CONTEXT_CONTEXT_KEY)
        assert isinstance(seeded, AuthContext)
        assert seeded.subject.id == "user-42"
    assert context.get_context_value(AUTH_CONTEXT_CONTEXT_KEY) is None
    with (
        pytest.raises(ValueError, match="boom"),
        harness.propagator.restore({SNAPSHOT_HEADER: envelope}, call),
    ):
        raise ValueError("boom")
    assert context.get_context_value(AUTH_CONTEXT_CONTEXT_KEY) is None


def test_refused_requirement_expect_identity_not_left_seeded(
    make_app: AppFactory,
) -> None:
    """A requirement refused after seeding leaves no identity in the scope."""
    harness = make_app(ReportHandler, ScriptedChecker)
    message = harness.dispatch(ReportHandler, "purge", as_=caller())
    envelope = message.headers[SNAPSHOT_HEADER]
    call = TaskCall(
        task=harness.binding(ReportHandler, "purge"), task_id=message.task_id
    )
    harness.context.clear_context()
    with (
        pytest.raises(TaskAuthorizationDeniedError),
        harness.propagator.restore({SNAPSHOT_HEADER: envelope}, call),
    ):
        pass
    assert harness.context.get_context_value(AUTH_CONTEXT_CONTEXT_KEY) is None


# --- computed once; deterministic with spakky-auth's own aspect --------------------


def test_plans_on_repeated_runs_expect_compiled_once_per_task_at_startup(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Startup compiles each task's plan once; executions never recompute it."""
    compiled: list[str] = []
    original = propagator_module.plan_task_auth

    def counting(task: TaskBinding) -> TaskAuthPlan:
        compiled.append(task.name)
        return original(task)

    monkeypatch.setattr(propagator_module, "plan_task_auth", counting)
    harness = make_app(ReportHandler, ScriptedChecker)
    registered = sorted(binding.name for binding in harness.registry)
    assert sorted(compiled) == registered
    for _ in range(3):
        harness.call(ReportHandler, "purge", as_=ADMIN)
        harness.call(ReportHandler, "open_report")
    assert sorted(compiled) == registered


def test_with_spakky_auth_aspect_expect_adapter_decides_first(
    make_app: AppFactory,
) -> None:
    """spakky-auth's AuthorizationAspect on the handler changes no worker outcome.

    The adapter admits the task before the handler's proxy (and any aspect) is
    called, so refusals are the adapter's; an admitted call is re-checked by
    the aspect against the same seeded identity and the same checkers.
    """
    harness = make_app(
        ReportHandler, ScriptedChecker, AuthorizationAspect, AsyncAuthorizationAspect
    )
    checker = harness.get(ScriptedChecker)
    _refused(
        harness,
        TaskAuthorizationDeniedError,
        harness.dispatch(ReportHandler, "purge", as_=caller()),
    )
    assert len(checker.requests) == 1
    _refused(
        harness,
        TaskAuthenticationRequiredError,
        harness.dispatch(ReportHandler, "whoami"),
    )
    assert harness.call(ReportHandler, "purge", as_=ADMIN) is not None
    assert len(checker.requests) == 3
    assert harness.call(ReportHandler, "whoami_async", as_=caller()) is not None
