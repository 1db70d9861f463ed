"""Errors raised by the auth-snapshot adapter.

Worker-side refusals (:class:`AbstractTaskAuthRefusedError` and its three
subclasses) cross the result backend. A JSON result serializer stores an
exception as its class, module and ``args`` and rebuilds it on the caller with
``cls(*args)``, so their ``args`` are exactly their constructor's plain string
arguments (reason code, reason). They never hold a secret: no snapshot, no
credential and no text produced by an auth provider.
"""

from abc import ABC
from typing import ClassVar, override

from spakky.auth import (
    AuthorizationDecision,
    AuthorizationDecisionState,
    AuthorizationReasonCode,
)

from spakky.dispatch.core.adapter import (
    AbstractSpakkyDispatchError,
    RetryableTaskError,
    TaskArgumentSerializationError,
    TaskDispatchError,
    TaskRefusedError,
)


class AbstractSpakkyDispatchAuthError(AbstractSpakkyDispatchError, ABC):
    """Root of every error raised by spakky-dispatch-auth."""

    message = "Task auth failed"


class WeakSnapshotKeyError(AbstractSpakkyDispatchAuthError):
    """The snapshot key in the environment is empty, malformed or too short."""

    message = (
        "The auth snapshot key is unsafe, so the application did not start: "
        "SPAKKY_CRYPTOGRAPHY_SNAPSHOT_KEY must be the base64url encoding of at "
        "least 32 random bytes (anyone who knows or guesses the key can sign "
        'any identity); generate one with `python -c "from '
        'spakky.plugins.cryptography import Key; print(Key(size=32).b64_urlsafe)"` '
        "and give the same value to every caller and worker, or unset the "
        "variable when no process signs or verifies snapshots"
    )


class UnbindableTaskArgumentsError(
    AbstractSpakkyDispatchAuthError, TaskArgumentSerializationError
):
    """A protected task's arguments have no canonical form to sign."""

    message = (
        "The task requires the caller's identity, and its auth snapshot signs a "
        "digest of the arguments that the worker recomputes from what it "
        "receives, so every argument must be a plain JSON value: str, int, "
        "finite float, bool, None, and lists, tuples and str-keyed dicts of "
        "those; pass datetimes, UUIDs, Decimals and bytes as strings. Nothing "
        "was sent"
    )


class TaskAuthNotReadyError(AbstractSpakkyDispatchAuthError):
    """The auth propagator was used before the application context was attached."""

    message = (
        "AuthSnapshotPropagator has no application context; get it from a started "
        "Spakky application instead of constructing it directly"
    )


class AuthSnapshotSignerMissingError(
    AbstractSpakkyDispatchAuthError, TaskDispatchError
):
    """Propagation is on and the caller has an identity, but nothing can sign it."""

    message = (
        "Auth snapshot propagation is enabled (SPAKKY_AUTH_SNAPSHOT_PROPAGATION_ENABLED"
        "=true) and the caller has an AuthContext, but no IAuthContextSnapshotSigner "
        "is registered, so the task was not sent; register a signer (for example "
        "load the spakky-cryptography plugin) or disable snapshot propagation"
    )


class AuthSnapshotSigningError(AbstractSpakkyDispatchAuthError, TaskDispatchError):
    """The registered signer failed, so the task was not sent."""

    message = (
        "The IAuthContextSnapshotSigner could not sign the caller's AuthContext, so "
        "the task was not sent; check the signer provider and its key configuration"
    )


class AuthCredentialLeakError(AbstractSpakkyDispatchAuthError, TaskDispatchError):
    """The signed snapshot would carry the caller's raw credential."""

    message = (
        "The signed auth snapshot would contain the caller's raw credential (it "
        "appears in an AuthContext claim or identity field), so the task was not "
        "sent; keep credentials only in AuthContext.credential_carrier, which is "
        "never propagated"
    )


class InvalidCallerAuthContextError(AbstractSpakkyDispatchAuthError, TaskDispatchError):
    """The caller's context scope holds something else than an ``AuthContext``."""

    message = (
        "The context value 'spakky.auth.context' is not an AuthContext, so no auth "
        "snapshot can be signed and the task was not sent; store the caller's "
        "identity with spakky.auth.store_auth_context"
    )


class InvalidTaskAuthDefinitionError(AbstractSpakkyDispatchAuthError):
    """A task's auth metadata cannot be enforced at the worker boundary."""

    message = "Task auth requirements cannot be enforced on the worker; fix the task's auth decorators"


class ProtectedScheduleError(InvalidTaskAuthDefinitionError):
    """A ``@schedule`` method carries auth requirements."""

    message = (
        "A @schedule method has auth requirements, but scheduled runs carry no "
        "caller identity, so every run would be refused on the worker; remove "
        "@protected/@require_* from the scheduled method and its class, or schedule "
        "an unprotected method and dispatch protected tasks from a caller that has "
        "an AuthContext"
    )


def reason_code_of(value: str) -> AuthorizationReasonCode:
    """Return the reason code named ``value``; unknown names become INTERNAL_ERROR."""
    try:
        return AuthorizationReasonCode(value)
    except ValueError:
        return AuthorizationReasonCode.INTERNAL_ERROR


class AbstractTaskAuthRefusedError(
    AbstractSpakkyDispatchAuthError, TaskRefusedError, ABC
):
    """A task was refused at the worker boundary; ``decision`` says why.

    The body of the task never ran. ``decision.state`` is CHALLENGE, DENY or
    ERROR (one subclass each) and ``decision.reason_code`` the machine-readable
    reason; both survive the result backend.
    """

    state: ClassVar[AuthorizationDecisionState]
    """Decision state that every instance of the class carries."""

    decision: AuthorizationDecision
    """The refusal decision: state, reason code and reason."""

    def __init__(
        self,
        reason_code: str = AuthorizationReasonCode.INTERNAL_ERROR,
        reason: str | None = None,
    ) -> None:
        code = reason_code_of(reason_code)
        self.decision = AuthorizationDecision(
            state=self.state, reason_code=code, reason=reason
        )
        super().__init__(
            f"{self.state.value} {code.value}"
            + ("" if reason is None else f" ({reason})")
        )
        self.args = (code.value, reason)

    @override
    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), self.args, dict(self.__dict__))


class TaskAuthenticationRequiredError(AbstractTaskAuthRefusedError):
    """CHALLENGE: the message carries no caller identity the worker could verify."""

    state = AuthorizationDecisionState.CHALLENGE
    message = (
        "The task requires the caller's identity and the message carries no auth "
        "snapshot the worker could verify (missing, malformed, tampered, expired or "
        "signed with another key); dispatch it from a caller with an AuthContext, "
        "SPAKKY_AUTH_SNAPSHOT_PROPAGATION_ENABLED=true and the same snapshot key as "
        "the worker"
    )


class TaskAuthorizationDeniedError(AbstractTaskAuthRefusedError):
    """DENY: the caller's identity does not meet a requirement; never retried."""

    state = AuthorizationDecisionState.DENY
    message = (
        "The caller's identity does not satisfy the task's auth requirements; the "
        "task was refused and is not retried"
    )


class TaskAuthUnavailableError(AbstractTaskAuthRefusedError, RetryableTaskError):
    """ERROR: a verifier or checker was unavailable; retried, then failed."""

    state = AuthorizationDecisionState.ERROR
    message = (
        "The task's auth could not be evaluated because the snapshot verifier or a "
        "requirement checker is unavailable; the task is retried "
        "SPAKKY_DISPATCH_AUTH__MAX_RETRIES times, SPAKKY_DISPATCH_AUTH__RETRY_DELAY "
        "seconds apart, and then fails"
    )

    def __init__(
        self,
        reason_code: str = AuthorizationReasonCode.INTERNAL_ERROR,
        reason: str | None = None,
        *,
        delay: float = 1.0,
        max_retries: int = 3,
    ) -> None:
        super().__init__(reason_code, reason)
        self.delay = delay
        self.max_retries = max_retries
