"""Worker-side checks of a verified snapshot: bound to this message, and fresh.

``bound_identity`` runs after the verifier accepted the signature: the
snapshot's binding claim must name the worker's audience and the received
task, message id and arguments, and the snapshot must be neither issued in
the future nor older than the maximum age. Every refusal is CHALLENGE with a
reason that names the task and what did not match, never a value.
"""

import json
import time
from base64 import urlsafe_b64decode
from dataclasses import replace
from datetime import UTC, datetime

from spakky.auth import AuthContext, AuthorizationReasonCode

from spakky.dispatch.auth.config import ENV_PREFIX, TaskAuthConfig
from spakky.dispatch.auth.error import TaskAuthenticationRequiredError
from spakky.dispatch.auth.message_binding import (
    BINDING_CLAIM,
    MessageBinding,
    NotPlainValueError,
    arguments_digest,
)
from spakky.dispatch.core.adapter import TaskCall

_INVALID = AuthorizationReasonCode.SNAPSHOT_INVALID
_EXPIRED = AuthorizationReasonCode.SNAPSHOT_EXPIRED


def bound_identity(
    auth_context: AuthContext, call: TaskCall, envelope: str, config: TaskAuthConfig
) -> AuthContext:
    """``auth_context`` without its binding claim, if it was signed for ``call``.

    Args:
        auth_context: What the verifier read from ``envelope``.
        call: The received message (task, id, decoded arguments).
        envelope: The verified snapshot header, for its signed issue time.
        config: The worker's audience, maximum age and clock leeway.

    Raises:
        TaskAuthenticationRequiredError: ``SNAPSHOT_INVALID`` when the snapshot
            is bound to no message or to another one (audience, task, id or
            arguments), or was issued in the future; ``SNAPSHOT_EXPIRED`` when
            it is older than ``max_age``.
    """
    binding = _binding(auth_context, call, config)
    _check_fresh(call.task.name, envelope, binding, config)
    return replace(
        auth_context,
        claims=tuple(
            claim for claim in auth_context.claims if claim.name != BINDING_CLAIM
        ),
    )


def _binding(
    auth_context: AuthContext, call: TaskCall, config: TaskAuthConfig
) -> MessageBinding:
    """The snapshot's binding, compared in constant time with the message's."""
    name = call.task.name
    claims = [claim for claim in auth_context.claims if claim.name == BINDING_CLAIM]
    claim = claims[0].value if len(claims) == 1 else None
    received = MessageBinding.parse(claim)
    if received is None or not isinstance(claim, str):
        raise _refused(
            _INVALID,
            name,
            "the snapshot is not bound to a message (signed by an older "
            "version, or taken from another message)",
        )
    if call.task_id is None:
        raise _refused(_INVALID, name, "the message has no id to check")
    try:
        digest = arguments_digest(call.args, call.kwargs)
    except NotPlainValueError as error:
        raise _refused(
            _INVALID,
            name,
            f"the received {error.label} is {error.what}; a snapshot only signs "
            "plain JSON arguments",
        ) from None
    expected = MessageBinding(
        audience=config.audience,
        task_name=name,
        task_id=call.task_id,
        arguments=digest,
        not_before=received.not_before,
    )
    if not expected.matches(claim):
        raise _refused(
            _INVALID,
            name,
            "the snapshot was signed for another message (other "
            f"{_differences(expected, received)})",
        )
    return received


def _check_fresh(
    name: str, envelope: str, binding: MessageBinding, config: TaskAuthConfig
) -> None:
    """Refuse a snapshot issued in the future or older than the maximum age."""
    issued = issued_at(envelope)
    if issued is None:
        raise _refused(_INVALID, name, "the snapshot has no readable issue time")
    now = time.time()
    leeway = config.clock_leeway
    if issued > now + leeway:
        raise _refused(
            _INVALID,
            name,
            f"the snapshot was issued {issued - now:.0f} s in the future "
            f"({ENV_PREFIX}CLOCK_LEEWAY is {leeway:g} s)",
        )
    start = issued if binding.not_before is None else max(issued, binding.not_before)
    age = now - start
    if age > config.max_age + leeway:
        raise _refused(
            _EXPIRED,
            name,
            f"the snapshot is {age:.0f} s old; {ENV_PREFIX}MAX_AGE is "
            f"{config.max_age:g} s",
        )


def issued_at(envelope: str) -> float | None:
    """When the snapshot in ``envelope`` was issued (seconds since the epoch).

    The envelope is the propagator's own format, unpadded base64url of
    ``AuthContextSnapshot.canonical_json()``, whose ``issued_at`` the signer
    signed. None when it cannot be read.
    """
    try:
        decoded = urlsafe_b64decode(envelope + "=" * (-len(envelope) % 4))
        value = datetime.fromisoformat(json.loads(decoded)["issued_at"])
    except (ValueError, TypeError, KeyError):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def _differences(expected: MessageBinding, received: MessageBinding) -> str:
    """Which parts of two bindings differ, for a refusal reason."""
    parts = [
        label
        for label, differs in (
            ("audience", expected.audience != received.audience),
            ("task", expected.task_name != received.task_name),
            ("message id", expected.task_id != received.task_id),
            ("arguments", expected.arguments != received.arguments),
        )
        if differs
    ]
    return ", ".join(parts) or "encoding"


def _refused(
    reason_code: AuthorizationReasonCode, task_name: str, reason: str
) -> TaskAuthenticationRequiredError:
    return TaskAuthenticationRequiredError(reason_code, f"{task_name}: {reason}")
