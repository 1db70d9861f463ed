"""spakky-dispatch-auth: signed AuthContext snapshots and worker-side authorization.

``AuthSnapshotPropagator`` plugs into the core's header-propagation port: it
signs the caller's ``AuthContext``, bound to one message (``MessageBinding``),
into the ``spakky.auth.context_snapshot`` header of a protected task and, on
the worker, admits protected tasks through ``TaskAuthorizer`` (verify, check
binding and age, re-seed, every requirement), fail-closed. Refusals are CHALLENGE
(``TaskAuthenticationRequiredError``), DENY (``TaskAuthorizationDeniedError``)
or ERROR (``TaskAuthUnavailableError``, retried per ``TaskAuthConfig``).
"""

from spakky.dispatch.auth.admission import bound_identity, issued_at
from spakky.dispatch.auth.authorizer import TASK_BOUNDARY, TaskAuthorizer
from spakky.dispatch.auth.components import AUTH_COMPONENTS
from spakky.dispatch.auth.config import ENV_PREFIX, TaskAuthConfig
from spakky.dispatch.auth.error import (
    AbstractSpakkyDispatchAuthError,
    AbstractTaskAuthRefusedError,
    AuthCredentialLeakError,
    AuthSnapshotSignerMissingError,
    AuthSnapshotSigningError,
    InvalidCallerAuthContextError,
    InvalidTaskAuthDefinitionError,
    ProtectedScheduleError,
    TaskAuthenticationRequiredError,
    TaskAuthNotReadyError,
    TaskAuthorizationDeniedError,
    TaskAuthUnavailableError,
    UnbindableTaskArgumentsError,
    WeakSnapshotKeyError,
)
from spakky.dispatch.auth.message_binding import (
    BINDING_CLAIM,
    MessageBinding,
    arguments_digest,
    canonical_arguments,
)
from spakky.dispatch.auth.plan import RequirementCheck, TaskAuthPlan, plan_task_auth
from spakky.dispatch.auth.propagator import (
    AUTH_PROPAGATION_ORDER,
    SNAPSHOT_HEADER,
    AuthContextScope,
    AuthSnapshotPropagator,
)
from spakky.dispatch.auth.snapshot_key import (
    MIN_SNAPSHOT_KEY_BYTES,
    SNAPSHOT_KEY_VARIABLE,
    SnapshotKeyCheck,
    check_snapshot_key,
)
from spakky.dispatch.auth.startup import TaskAuthStartupValidationService

__all__ = [
    "AUTH_COMPONENTS",
    "AUTH_PROPAGATION_ORDER",
    "BINDING_CLAIM",
    "ENV_PREFIX",
    "MIN_SNAPSHOT_KEY_BYTES",
    "SNAPSHOT_HEADER",
    "SNAPSHOT_KEY_VARIABLE",
    "TASK_BOUNDARY",
    "AbstractSpakkyDispatchAuthError",
    "AbstractTaskAuthRefusedError",
    "AuthContextScope",
    "AuthCredentialLeakError",
    "AuthSnapshotPropagator",
    "AuthSnapshotSignerMissingError",
    "AuthSnapshotSigningError",
    "InvalidCallerAuthContextError",
    "InvalidTaskAuthDefinitionError",
    "MessageBinding",
    "ProtectedScheduleError",
    "RequirementCheck",
    "SnapshotKeyCheck",
    "TaskAuthConfig",
    "TaskAuthNotReadyError",
    "TaskAuthPlan",
    "TaskAuthStartupValidationService",
    "TaskAuthUnavailableError",
    "TaskAuthenticationRequiredError",
    "TaskAuthorizationDeniedError",
    "TaskAuthorizer",
    "UnbindableTaskArgumentsError",
    "WeakSnapshotKeyError",
    "arguments_digest",
    "bound_identity",
    "canonical_arguments",
    "check_snapshot_key",
    "issued_at",
    "plan_task_auth",
]
