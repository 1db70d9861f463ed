"""Dispatch side: the caller's signed snapshot in the header, never its credential."""

import base64
import hashlib
import json
import math
import time
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from spakky.auth import (
    AUTH_CONTEXT_CONTEXT_KEY,
    AuthClaim,
    AuthInvocation,
    AuthSnapshotPropagationConfig,
    SnapshotSignRequest,
)
from spakky.core.pod.annotations.order import Order
from spakky.plugins.cryptography import (
    CryptographyAuthProvider,
    CryptographyAuthProviderConfig,
)
from spakky.task import TaskAuthMetadata, TaskAuthRequirementMetadata

from spakky.dispatch.auth import (
    AUTH_PROPAGATION_ORDER,
    BINDING_CLAIM,
    SNAPSHOT_HEADER,
    AuthCredentialLeakError,
    AuthSnapshotPropagator,
    AuthSnapshotSignerMissingError,
    AuthSnapshotSigningError,
    InvalidCallerAuthContextError,
    TaskAuthConfig,
    TaskAuthNotReadyError,
    TaskAuthorizer,
    UnbindableTaskArgumentsError,
    arguments_digest,
)
from spakky.dispatch.core import (
    TaskArgumentSerializationError,
    TaskDispatcher,
    TaskDispatchError,
    dispatch_options,
)
from spakky.dispatch.core.adapter import TaskBinding, TaskCall, TaskMessage

from .auth_fakes import TOKEN, Harness, ScriptedSigner, caller
from .auth_handlers import ArgumentHandler, ReportHandler
from .conftest import AppFactory


def _payload(envelope: str) -> dict[str, object]:
    padded = envelope + "=" * (-len(envelope) % 4)
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(padded))
    return decoded


def test_propagator_declared_expect_only_snapshot_header_at_order_100() -> None:
    """It claims ``spakky.auth.context_snapshot`` and runs before tracing (200)."""
    assert SNAPSHOT_HEADER == "spakky.auth.context_snapshot"
    assert Order.get(AuthSnapshotPropagator).order == AUTH_PROPAGATION_ORDER == 100
    propagator = AuthSnapshotPropagator(TaskAuthorizer(TaskAuthConfig()))
    assert propagator.fields() == frozenset({SNAPSHOT_HEADER})


def test_dispatch_with_caller_expect_signed_snapshot_of_caller(
    make_app: AppFactory,
) -> None:
    """The header carries the caller's identity, signed, verifiable by the key."""
    harness = make_app(ReportHandler)
    message = harness.dispatch(ReportHandler, "whoami", as_=caller())
    envelope = message.headers[SNAPSHOT_HEADER]
    payload = _payload(envelope)
    assert payload["subject"] == {"id": "user-42", "display_name": "Ada"}
    assert payload["roles"] == ["reader"]
    assert payload["tenant"] == "acme"
    verified = harness.get(CryptographyAuthProvider).verify_snapshot(
        envelope, AuthInvocation(boundary="task", operation="x")
    )
    assert verified.subject.id == "user-42"
    assert verified.credential_carrier is None


def test_dispatch_with_bearer_token_expect_token_nowhere_in_message(
    make_app: AppFactory,
) -> None:
    """The raw credential is in no header, argument or encoded form of the message."""
    harness = make_app(ReportHandler)
    message = harness.dispatch(ReportHandler, "whoami", as_=caller())
    envelope = message.headers[SNAPSHOT_HEADER]
    wire = (
        repr(message)
        + json.dumps(dict(message.headers))
        + json.dumps(_payload(envelope))
    )
    assert TOKEN not in wire
    assert base64.urlsafe_b64encode(TOKEN.encode()).decode().rstrip("=") not in wire


def test_dispatch_without_caller_expect_no_header(make_app: AppFactory) -> None:
    """No AuthContext in the caller's scope: no snapshot header."""
    harness = make_app(ReportHandler)
    message = harness.dispatch(ReportHandler, "whoami")
    assert SNAPSHOT_HEADER not in message.headers


def test_dispatch_unprotected_task_with_caller_expect_no_header(
    make_app: AppFactory,
) -> None:
    """Only tasks that require an identity carry a snapshot, so none can be lifted
    from an unprotected task's message; a public task carries none either."""
    harness = make_app(ReportHandler, crypto=False)  # no signer needed either
    for method in ("open_report", "public_report"):
        message = harness.dispatch(ReportHandler, method, as_=caller())
        assert dict(message.headers) == {}


def test_dispatch_with_propagation_disabled_expect_no_header(
    make_app: AppFactory, auth_env: pytest.MonkeyPatch
) -> None:
    """``SPAKKY_AUTH_SNAPSHOT_PROPAGATION_ENABLED=false``: nothing is signed."""
    auth_env.setenv("SPAKKY_AUTH_SNAPSHOT_PROPAGATION_ENABLED", "false")
    harness = make_app(ReportHandler)
    assert not harness.propagator.enabled
    message = harness.dispatch(ReportHandler, "whoami", as_=caller())
    assert SNAPSHOT_HEADER not in message.headers


def test_propagation_configs_expect_enabled_when_any_is(
    auth_env: pytest.MonkeyPatch,
) -> None:
    """Several settings pods collapse to 'any enabled'; none: the environment."""
    authorizer = TaskAuthorizer(TaskAuthConfig())
    configs = [
        AuthSnapshotPropagationConfig(enabled=False),
        AuthSnapshotPropagationConfig(enabled=True),
    ]
    assert AuthSnapshotPropagator(authorizer, configs).enabled
    assert not AuthSnapshotPropagator(authorizer, configs[:1]).enabled
    assert AuthSnapshotPropagator(authorizer).enabled
    auth_env.setenv("SPAKKY_AUTH_SNAPSHOT_PROPAGATION_ENABLED", "false")
    assert not AuthSnapshotPropagator(authorizer).enabled


def test_dispatch_without_signer_expect_error_and_nothing_sent(
    make_app: AppFactory,
) -> None:
    """Enabled, a caller, no signer: the call fails clearly and sends nothing."""
    harness = make_app(ReportHandler, crypto=False)
    with pytest.raises(AuthSnapshotSignerMissingError) as caught:
        harness.dispatch(ReportHandler, "whoami", as_=caller())
    assert isinstance(caught.value, TaskDispatchError)
    assert "IAuthContextSnapshotSigner" in str(caught.value)
    assert "ReportHandler.whoami" in str(caught.value)
    assert harness.sender.messages == []


def test_dispatch_without_signer_or_caller_expect_sent_without_header(
    make_app: AppFactory,
) -> None:
    """Without a caller identity a missing signer does not matter."""
    harness = make_app(ReportHandler, crypto=False)
    message = harness.dispatch(ReportHandler, "open_report")
    assert dict(message.headers) == {}


def test_signer_given_caller_with_token_expect_no_credential_carrier(
    make_app: AppFactory,
) -> None:
    """The signer gets the caller's identity without its credential carrier."""
    harness = make_app(ReportHandler, ScriptedSigner, crypto=False)
    signer = harness.get(ScriptedSigner)
    identity = caller()
    signer.answer = CryptographyAuthProvider(
        CryptographyAuthProviderConfig()
    ).sign_snapshot(
        SnapshotSignRequest(auth_context=replace(identity, credential_carrier=None))
    )
    message = harness.dispatch(ReportHandler, "whoami", as_=identity)
    assert SNAPSHOT_HEADER in message.headers
    [request] = signer.requests
    binding = harness.propagator.binding_for(_call_of(harness, message))
    assert request.auth_context == replace(
        identity,
        credential_carrier=None,
        claims=(AuthClaim(name=BINDING_CLAIM, value=binding.claim()),),
    )


def test_dispatch_with_token_in_claims_expect_leak_error_and_nothing_sent(
    make_app: AppFactory,
) -> None:
    """A credential copied into a claim would be signed into the header: refused."""
    harness = make_app(ReportHandler)
    leaky = caller(claims=(AuthClaim(name="raw", value=f"Bearer {TOKEN}"),))
    with pytest.raises(AuthCredentialLeakError) as caught:
        harness.dispatch(ReportHandler, "whoami", as_=leaky)
    assert TOKEN not in str(caught.value)
    assert harness.sender.messages == []


def test_dispatch_with_empty_credential_expect_signed(make_app: AppFactory) -> None:
    """An empty credential carrier is not a leak (nothing to leak)."""
    harness = make_app(ReportHandler)
    message = harness.dispatch(ReportHandler, "whoami", as_=caller(material=""))
    assert SNAPSHOT_HEADER in message.headers


def test_dispatch_signer_raising_expect_signing_error_and_nothing_sent(
    make_app: AppFactory,
) -> None:
    """A failing signer fails the call (cause kept) and sends nothing."""
    harness = make_app(ReportHandler, ScriptedSigner, crypto=False)
    with pytest.raises(AuthSnapshotSigningError, match="raised RuntimeError") as caught:
        harness.dispatch(ReportHandler, "whoami", as_=caller())
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert harness.sender.messages == []


def test_dispatch_signer_returning_junk_expect_signing_error(
    make_app: AppFactory,
) -> None:
    """A signer that returns something else than a snapshot is refused."""
    harness = make_app(ReportHandler, ScriptedSigner, crypto=False)
    harness.get(ScriptedSigner).answer = "not-a-snapshot"
    with pytest.raises(AuthSnapshotSigningError, match="returned str"):
        harness.dispatch(ReportHandler, "whoami", as_=caller())
    assert harness.sender.messages == []


def test_dispatch_with_foreign_context_value_expect_invalid_caller_error(
    make_app: AppFactory,
) -> None:
    """Something else than an AuthContext under the auth key is not ignored."""
    harness = make_app(ReportHandler)
    harness.context.set_context_value(AUTH_CONTEXT_CONTEXT_KEY, {"sub": "user-42"})
    try:
        with pytest.raises(InvalidCallerAuthContextError, match="found dict"):
            harness.propagator.inject(
                {},
                TaskCall(task=harness.binding(ReportHandler, "whoami"), task_id="i"),
            )
    finally:
        harness.context.clear_context()


def test_propagator_outside_an_application_expect_not_ready_error() -> None:
    """Used without an application context, it says how to get a working one."""
    propagator = AuthSnapshotPropagator(
        TaskAuthorizer(TaskAuthConfig()), [AuthSnapshotPropagationConfig(enabled=True)]
    )
    with pytest.raises(TaskAuthNotReadyError, match="started Spakky application"):
        propagator.inject({}, TaskCall(task=_PROTECTED_TASK, task_id="i"))


_PROTECTED_TASK = TaskBinding(
    name="m.H.run",
    handler_type=object,
    method_name="run",
    pod_name="h",
    is_async=False,
    auth=TaskAuthMetadata(
        requirements=(TaskAuthRequirementMetadata(kind="AUTHENTICATED", ref="x"),)
    ),
)


def _call_of(harness: Harness, message: TaskMessage) -> TaskCall:
    """The call a captured message was dispatched as (no delivery options)."""
    return TaskCall(
        task=harness.registry.get(message.task_name),
        task_id=message.task_id,
        args=message.args,
        kwargs=message.kwargs,
    )


def _binding_claim(envelope: str) -> dict[str, object]:
    claims = _payload(envelope)["selected_claims"]
    assert isinstance(claims, dict)
    value = claims[BINDING_CLAIM]
    assert isinstance(value, str)
    decoded: dict[str, object] = json.loads(value)
    return decoded


def test_dispatch_protected_expect_snapshot_bound_to_the_message(
    make_app: AppFactory,
) -> None:
    """The signed claims bind the snapshot to audience, task, id and arguments."""
    harness = make_app(ArgumentHandler)
    message = harness.dispatch(ArgumentHandler, "refund", "o-1", 10, as_=caller())
    binding = _binding_claim(message.headers[SNAPSHOT_HEADER])
    assert binding == {
        "v": 1,
        "aud": "spakky",
        "task": harness.binding(ArgumentHandler, "refund").name,
        "id": message.task_id,
        "args": hashlib.sha256(b'[["o-1",10],{}]').hexdigest(),
        "nbf": None,
    }
    assert binding["args"] == arguments_digest(message.args, message.kwargs)


def test_dispatch_protected_with_audience_setting_expect_audience_signed(
    make_app: AppFactory, auth_env: pytest.MonkeyPatch
) -> None:
    """``SPAKKY_DISPATCH_AUTH__AUDIENCE`` names the application in the binding."""
    auth_env.setenv("SPAKKY_DISPATCH_AUTH__AUDIENCE", "orders-prod")
    harness = make_app(ArgumentHandler)
    message = harness.dispatch(ArgumentHandler, "refund", "o-1", 1, as_=caller())
    assert _binding_claim(message.headers[SNAPSHOT_HEADER])["aud"] == "orders-prod"


def test_dispatch_delayed_expect_not_before_signed(make_app: AppFactory) -> None:
    """A countdown or an eta is signed as the time the call may run from."""
    harness = make_app(ArgumentHandler)
    eta = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    harness.context.set_context_value(AUTH_CONTEXT_CONTEXT_KEY, caller())
    dispatcher, binding = (
        harness.get(TaskDispatcher),
        harness.binding(ArgumentHandler, "refund"),
    )
    try:
        before = time.time()
        with dispatch_options(countdown=600):
            counted = dispatcher.message(binding, ("o-1", 1), {})
        with dispatch_options(eta=eta):
            timed = dispatcher.message(binding, ("o-1", 1), {})
    finally:
        harness.context.clear_context()
    not_before = _binding_claim(counted.headers[SNAPSHOT_HEADER])["nbf"]
    assert isinstance(not_before, float)
    assert before + 600 <= not_before <= time.time() + 600
    assert _binding_claim(timed.headers[SNAPSHOT_HEADER])["nbf"] == eta.timestamp()


def test_dispatch_caller_with_binding_claim_expect_replaced_by_ours(
    make_app: AppFactory,
) -> None:
    """A claim of the same name in the caller's context cannot pose as a binding."""
    harness = make_app(ArgumentHandler)
    forged = AuthClaim(name=BINDING_CLAIM, value='{"task":"anything"}')
    other = AuthClaim(name="department", value="sales")
    identity = caller(claims=(forged, other))
    message = harness.dispatch(ArgumentHandler, "claims", as_=identity)
    claims = _payload(message.headers[SNAPSHOT_HEADER])["selected_claims"]
    assert isinstance(claims, dict)
    assert claims["department"] == "sales"
    assert _binding_claim(message.headers[SNAPSHOT_HEADER])["id"] == message.task_id
    assert harness.run(message) == {"claims": ["department"]}


@pytest.mark.parametrize(
    ("args", "kwargs", "named", "what"),
    [
        ((datetime(2024, 1, 1),), {}, "argument 0", "of type datetime"),
        (("ok", {1, 2}), {}, "argument 1", "of type set"),
        ((), {"amount": math.nan}, "argument 'amount'", "a non-finite float (nan)"),
        (({1: "a"},), {}, "argument 0", "a dict with a key of type int"),
        ((b"raw",), {}, "argument 0", "of type bytes"),
        (([[object()]],), {}, "argument 0", "of type object"),
    ],
)
def test_dispatch_protected_unplain_argument_expect_error_and_nothing_sent(
    make_app: AppFactory,
    args: tuple[object, ...],
    kwargs: dict[str, object],
    named: str,
    what: str,
) -> None:
    """Arguments without a canonical form cannot be signed: a clear error, no send."""
    harness = make_app(ArgumentHandler)
    binding = harness.binding(ArgumentHandler, "anything")
    harness.context.set_context_value(AUTH_CONTEXT_CONTEXT_KEY, caller())
    try:
        with pytest.raises(UnbindableTaskArgumentsError) as caught:
            harness.get(TaskDispatcher).dispatch(binding, args, kwargs)
    finally:
        harness.context.clear_context()
    assert isinstance(caught.value, TaskArgumentSerializationError)
    assert str(caught.value.detail) == f"{binding.name}: {named} is {what}"
    assert "plain JSON value" in str(caught.value)
    assert harness.sender.messages == []


def test_dispatch_unprotected_unplain_argument_expect_sent(
    make_app: AppFactory,
) -> None:
    """The rule binds protected tasks only; other tasks keep the transport's rules."""
    harness = make_app(ArgumentHandler)
    message = harness.dispatch(
        ArgumentHandler, "open_anything", datetime(2024, 1, 1), as_=caller()
    )
    assert dict(message.headers) == {}
