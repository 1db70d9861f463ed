"""spakky-dispatch-auth: signed AuthContext snapshots and worker-side authorization.

``AuthSnapshotPropagator`` plugs into the core's header-propagation port: it
signs the caller's ``AuthContext`` into the ``spakky.auth.context_snapshot``
header and, on the worker, admits protected tasks through ``TaskAuthorizer``
(verify, re-seed, every requirement), fail-closed. Refusals are CHALLENGE
(``TaskAuthenticationRequiredError``), DENY (``TaskAuthorizationDeniedError``)
or ERROR (``TaskAuthUnavailableError``, retried per ``TaskAuthConfig``).
"""

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
    TaskAuthConfigurationError,
    TaskAuthenticationRequiredError,
    TaskAuthNotReadyError,
    TaskAuthorizationDeniedError,
    TaskAuthUnavailableError,
)
from spakky.dispatch.auth.plan import RequirementCheck, TaskAuthPlan, plan_task_auth
from spakky.dispatch.auth.propagator import (
    AUTH_PROPAGATION_ORDER,
    SNAPSHOT_HEADER,
    AuthContextScope,
    AuthSnapshotPropagator,
)
from spakky.dispatch.auth.startup import TaskAuthStartupValidationService

__all__ = [
    "AUTH_COMPONENTS",
    "AUTH_PROPAGATION_ORDER",
    "ENV_PREFIX",
    "SNAPSHOT_HEADER",
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
    "ProtectedScheduleError",
    "RequirementCheck",
    "TaskAuthConfig",
    "TaskAuthConfigurationError",
    "TaskAuthNotReadyError",
    "TaskAuthPlan",
    "TaskAuthStartupValidationService",
    "TaskAuthUnavailableError",
    "TaskAuthenticationRequiredError",
    "TaskAuthorizationDeniedError",
    "TaskAuthorizer",
    "plan_task_auth",
]
