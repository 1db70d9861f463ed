"""Refusal errors: decision state and reason survive a result backend, no secret."""

import json
import pickle

import pytest
from spakky.auth import AuthorizationDecisionState, AuthorizationReasonCode

from spakky.dispatch.auth import (
    AbstractSpakkyDispatchAuthError,
    AbstractTaskAuthRefusedError,
    AuthCredentialLeakError,
    AuthSnapshotSignerMissingError,
    AuthSnapshotSigningError,
    InvalidCallerAuthContextError,
    TaskAuthenticationRequiredError,
    TaskAuthorizationDeniedError,
    TaskAuthUnavailableError,
)
from spakky.dispatch.core import (
    AbstractSpakkyDispatchError,
    RetryableTaskError,
    TaskDispatchError,
    TaskRefusedError,
)

REFUSALS = [
    (TaskAuthenticationRequiredError, AuthorizationDecisionState.CHALLENGE),
    (TaskAuthorizationDeniedError, AuthorizationDecisionState.DENY),
    (TaskAuthUnavailableError, AuthorizationDecisionState.ERROR),
]


def _as_celery_json(error: BaseException) -> BaseException:
    """What Celery's JSON result backend does: store ``args``, then ``cls(*args)``."""
    stored = json.loads(json.dumps({"exc_message": list(error.args)}))
    return type(error)(*stored["exc_message"])


@pytest.mark.parametrize(("kind", "state"), REFUSALS)
def test_refusal_rebuilt_from_json_args_expect_same_state_code_and_reason(
    kind: type[AbstractTaskAuthRefusedError], state: AuthorizationDecisionState
) -> None:
    """A refusal rebuilt from its JSON-stored args keeps its whole decision."""
    error = kind(AuthorizationReasonCode.SNAPSHOT_EXPIRED, "tasks.T.run: expired")
    rebuilt = _as_celery_json(error)
    assert isinstance(rebuilt, kind)
    assert rebuilt.decision == error.decision
    assert rebuilt.decision.state is state
    assert rebuilt.decision.reason_code is AuthorizationReasonCode.SNAPSHOT_EXPIRED
    assert rebuilt.decision.reason == "tasks.T.run: expired"
    assert str(rebuilt) == str(error)


@pytest.mark.parametrize(("kind", "state"), REFUSALS)
def test_refusal_pickled_expect_same_decision(
    kind: type[AbstractTaskAuthRefusedError], state: AuthorizationDecisionState
) -> None:
    """The pickle result serializer keeps the decision too."""
    error = kind(AuthorizationReasonCode.POLICY_DENIED, None)
    rebuilt = pickle.loads(pickle.dumps(error))
    assert type(rebuilt) is kind
    assert rebuilt.decision == error.decision
    assert rebuilt.decision.state is state


def test_unavailable_error_pickled_expect_retry_policy_kept() -> None:
    """The ERROR refusal keeps its delay and bound across pickling."""
    error = TaskAuthUnavailableError("INTERNAL_ERROR", "x", delay=0.5, max_retries=7)
    rebuilt = pickle.loads(pickle.dumps(error))
    assert (rebuilt.delay, rebuilt.max_retries) == (0.5, 7)


def test_unavailable_error_expect_retryable_with_policy() -> None:
    """ERROR is the core's retryable error, so the transport retries it."""
    error = TaskAuthUnavailableError(
        AuthorizationReasonCode.VERIFICATION_PROVIDER_UNAVAILABLE,
        "down",
        delay=0.25,
        max_retries=5,
    )
    assert isinstance(error, RetryableTaskError)
    assert (error.delay, error.max_retries) == (0.25, 5)
    assert not isinstance(TaskAuthorizationDeniedError(), RetryableTaskError)
    assert not isinstance(TaskAuthenticationRequiredError(), RetryableTaskError)


@pytest.mark.parametrize(
    "kind",
    [
        TaskAuthenticationRequiredError,
        TaskAuthorizationDeniedError,
        TaskAuthUnavailableError,
    ],
)
def test_refusals_expect_core_refusal_marker(kind: type[Exception]) -> None:
    """Every refusal is the core's TaskRefusedError, so transports log it as expected."""
    assert issubclass(kind, TaskRefusedError)


def test_refusal_unknown_reason_code_expect_internal_error() -> None:
    """A reason code this version does not know is read as INTERNAL_ERROR."""
    error = TaskAuthorizationDeniedError("FROM_THE_FUTURE", "why")
    assert error.decision.reason_code is AuthorizationReasonCode.INTERNAL_ERROR
    assert error.args == ("INTERNAL_ERROR", "why")


def test_refusal_str_expect_message_state_code_and_reason() -> None:
    """The text says what is wrong, what to do, and the decision."""
    error = TaskAuthenticationRequiredError(
        AuthorizationReasonCode.SNAPSHOT_MISSING, "tasks.T.run: no header"
    )
    text = str(error)
    assert text.startswith(TaskAuthenticationRequiredError.message)
    assert "SPAKKY_AUTH_SNAPSHOT_PROPAGATION_ENABLED=true" in text
    assert text.endswith("CHALLENGE SNAPSHOT_MISSING (tasks.T.run: no header)")
    assert str(TaskAuthorizationDeniedError()).endswith("DENY INTERNAL_ERROR")


@pytest.mark.parametrize(
    "kind",
    [
        AuthSnapshotSignerMissingError,
        AuthSnapshotSigningError,
        AuthCredentialLeakError,
        InvalidCallerAuthContextError,
    ],
)
def test_dispatch_side_errors_expect_task_dispatch_errors(
    kind: type[Exception],
) -> None:
    """Dispatch-side failures say 'nothing was sent' through the core's type."""
    assert issubclass(kind, TaskDispatchError)
    assert issubclass(kind, AbstractSpakkyDispatchAuthError)
    assert "not sent" in str(kind())


@pytest.mark.parametrize(("kind", "state"), REFUSALS)
def test_refusal_classes_declared_expect_dispatch_error_root_and_state(
    kind: type[AbstractTaskAuthRefusedError], state: AuthorizationDecisionState
) -> None:
    """Every refusal is a project error carrying its class's decision state."""
    assert issubclass(kind, AbstractSpakkyDispatchError)
    assert kind.state is state
