"""``TaskAuthorizer``: the worker-side decision, verify then check every requirement."""

from typing import Final

from spakky.auth import (
    AUTH_CONTEXT_SNAPSHOT_METADATA_KEY,
    AuthContext,
    AuthContextSnapshotError,
    AuthInvocation,
    AuthorizationDecision,
    AuthorizationDecisionState,
    AuthorizationReasonCode,
    AuthorizationRequest,
    AuthRequirementKind,
    AuthVerificationProviderUnavailableError,
    ExpiredAuthContextSnapshotError,
    IAuthContextSnapshotVerifier,
    IAuthorizationPolicyEvaluator,
    IPermissionChecker,
    IRelationChecker,
    IRoleChecker,
    IScopeChecker,
    MissingAuthContextSnapshotError,
    PermissionCheckRequest,
    RelationCheckRequest,
    RoleCheckRequest,
    ScopeCheckRequest,
)
from spakky.core.pod.annotations.pod import Pod

from spakky.dispatch.auth.admission import bound_identity
from spakky.dispatch.auth.config import TaskAuthConfig
from spakky.dispatch.auth.error import (
    AbstractTaskAuthRefusedError,
    TaskAuthenticationRequiredError,
    TaskAuthorizationDeniedError,
    TaskAuthUnavailableError,
)
from spakky.dispatch.auth.plan import RequirementCheck, TaskAuthPlan
from spakky.dispatch.core.adapter import TaskCall

TASK_BOUNDARY: Final = "task"
"""``AuthInvocation.boundary`` given to the snapshot verifier."""

_UNAVAILABLE = AuthorizationReasonCode.VERIFICATION_PROVIDER_UNAVAILABLE
_INTERNAL = AuthorizationReasonCode.INTERNAL_ERROR
_ALLOW = AuthorizationDecision.allow()


@Pod()
class TaskAuthorizer:
    """Decides whether a received task may run, fail-closed.

    The snapshot is verified into the caller's ``AuthContext`` and must be
    bound to the very message that carries it and fresh (``admit``), then
    every requirement of the task's plan is evaluated by its checker port.
    Anything but ALLOW raises the refusal of that decision: CHALLENGE for a
    snapshot that is missing, invalid, expired, signed with another key,
    signed for another message or too old; DENY for a denied requirement;
    ERROR (retryable, bounded by ``TaskAuthConfig``) when the verifier or a
    checker is missing, unavailable or misbehaves.
    """

    _config: TaskAuthConfig
    _verifier: IAuthContextSnapshotVerifier | None
    _policy_evaluator: IAuthorizationPolicyEvaluator | None
    _permission_checker: IPermissionChecker | None
    _relation_checker: IRelationChecker | None
    _role_checker: IRoleChecker | None
    _scope_checker: IScopeChecker | None
    _invocations: dict[str, AuthInvocation]

    def __init__(
        self,
        config: TaskAuthConfig,
        verifier: IAuthContextSnapshotVerifier | None = None,
        policy_evaluator: IAuthorizationPolicyEvaluator | None = None,
        permission_checker: IPermissionChecker | None = None,
        relation_checker: IRelationChecker | None = None,
        role_checker: IRoleChecker | None = None,
        scope_checker: IScopeChecker | None = None,
    ) -> None:
        self._config = config
        self._verifier = verifier
        self._policy_evaluator = policy_evaluator
        self._permission_checker = permission_checker
        self._relation_checker = relation_checker
        self._role_checker = role_checker
        self._scope_checker = scope_checker
        self._invocations = {}

    @property
    def config(self) -> TaskAuthConfig:
        """The auth settings (audience, maximum age, retry policy)."""
        return self._config

    def admit(
        self, plan: TaskAuthPlan, call: TaskCall, envelope: str | None
    ) -> AuthContext:
        """Return the caller's identity if ``envelope`` was signed for ``call``.

        The snapshot is verified, then ``bound_identity`` checks that it names
        this audience, task, message id and arguments and is fresh, and
        removes the binding claim.

        Raises:
            TaskAuthenticationRequiredError: CHALLENGE, as for ``verify``, and
                ``SNAPSHOT_INVALID`` for a snapshot bound to no message or to
                another one, or issued in the future; ``SNAPSHOT_EXPIRED`` for
                one older than ``SPAKKY_DISPATCH_AUTH__MAX_AGE``.
            TaskAuthUnavailableError: No verifier, or it is unavailable (ERROR).
        """
        auth_context = self.verify(plan, envelope)
        return bound_identity(auth_context, call, envelope or "", self._config)

    def verify(self, plan: TaskAuthPlan, envelope: str | None) -> AuthContext:
        """Return the caller's identity carried by ``envelope``.

        Raises:
            TaskAuthenticationRequiredError: The snapshot is missing, invalid,
                expired or signed with another key (CHALLENGE).
            TaskAuthUnavailableError: No verifier, or it is unavailable (ERROR).
        """
        name = plan.task_name
        if not envelope:
            raise TaskAuthenticationRequiredError(
                AuthorizationReasonCode.SNAPSHOT_MISSING,
                f"{name}: the message has no {AUTH_CONTEXT_SNAPSHOT_METADATA_KEY} "
                "header",
            )
        if self._verifier is None:
            raise self.unavailable(
                _UNAVAILABLE,
                f"{name}: no {IAuthContextSnapshotVerifier.__name__} is registered",
            )
        invocation = self._invocations.get(name) or self._invocation(name)
        try:
            auth_context = self._verifier.verify_snapshot(envelope, invocation)
        except AuthVerificationProviderUnavailableError:
            raise self.unavailable(
                _UNAVAILABLE, f"{name}: the snapshot verifier is unavailable"
            ) from None
        except ExpiredAuthContextSnapshotError:
            raise _challenge(AuthorizationReasonCode.SNAPSHOT_EXPIRED, name) from None
        except MissingAuthContextSnapshotError:
            raise _challenge(AuthorizationReasonCode.SNAPSHOT_MISSING, name) from None
        except AuthContextSnapshotError:
            raise _challenge(AuthorizationReasonCode.SNAPSHOT_INVALID, name) from None
        except Exception as error:  # any other verifier failure is ERROR
            raise self.unavailable(
                _UNAVAILABLE,
                f"{name}: the snapshot verifier raised {type(error).__name__}",
            ) from None
        if not isinstance(auth_context, AuthContext):
            raise self.unavailable(
                _INTERNAL,
                f"{name}: the snapshot verifier returned "
                f"{type(auth_context).__name__}, not an AuthContext",
            )
        return auth_context

    def _invocation(self, name: str) -> AuthInvocation:
        """The (immutable) description of task ``name``'s boundary, made once."""
        invocation = self._invocations[name] = AuthInvocation(
            boundary=TASK_BOUNDARY, operation=name
        )
        return invocation

    def authorize(self, plan: TaskAuthPlan, auth_context: AuthContext) -> None:
        """Evaluate every requirement of ``plan``; return only if all ALLOW.

        Raises:
            TaskAuthenticationRequiredError: A checker answered CHALLENGE.
            TaskAuthorizationDeniedError: A checker answered DENY.
            TaskAuthUnavailableError: A checker is missing, raised, answered
                ERROR or answered something that is not a decision.
        """
        for check in plan.checks:
            where = f"{plan.task_name}: {check.label}"
            try:
                decision = self._decide(check, auth_context, where)
            except AbstractTaskAuthRefusedError:
                raise
            except Exception as error:  # any checker failure is ERROR
                raise self.unavailable(
                    _INTERNAL,
                    f"{where}: {_port_name(check)} raised {type(error).__name__}",
                ) from None
            if not isinstance(decision, AuthorizationDecision):
                raise self.unavailable(
                    _INTERNAL,
                    f"{where}: {_port_name(check)} returned "
                    f"{type(decision).__name__}, not an AuthorizationDecision",
                )
            if decision.state is not AuthorizationDecisionState.ALLOW:
                raise self.refusal(decision, f"{where} was not allowed")

    def refusal(
        self, decision: AuthorizationDecision, reason: str
    ) -> AbstractTaskAuthRefusedError:
        """Return the error that refuses a task with a non-ALLOW ``decision``."""
        code = decision.reason_code
        if decision.state is AuthorizationDecisionState.CHALLENGE:
            return TaskAuthenticationRequiredError(code, reason)
        if decision.state is AuthorizationDecisionState.DENY:
            return TaskAuthorizationDeniedError(code, reason)
        return self.unavailable(code, reason)

    def unavailable(
        self, reason_code: AuthorizationReasonCode, reason: str
    ) -> TaskAuthUnavailableError:
        """Return the ERROR refusal, carrying the configured retry policy."""
        return TaskAuthUnavailableError(
            reason_code,
            reason,
            delay=self._config.retry_delay,
            max_retries=self._config.max_retries,
        )

    def _decide(
        self, check: RequirementCheck, auth_context: AuthContext, where: str
    ) -> AuthorizationDecision:
        # The plan guarantees resource/action where a kind needs them.
        match check.kind:
            case AuthRequirementKind.AUTHENTICATED:
                return _ALLOW
            case AuthRequirementKind.POLICY:
                return self._required(
                    where, check, self._policy_evaluator
                ).evaluate_policy(
                    AuthorizationRequest(
                        auth_context=auth_context,
                        resource=check.resource or check.ref,
                        action=check.action or "",
                        tenant=check.tenant,
                    )
                )
            case AuthRequirementKind.PERMISSION:
                return self._required(
                    where, check, self._permission_checker
                ).check_permission(
                    PermissionCheckRequest(
                        auth_context=auth_context,
                        permission=check.ref,
                        resource=check.resource,
                        tenant=check.tenant,
                    )
                )
            case AuthRequirementKind.RELATION:
                return self._required(
                    where, check, self._relation_checker
                ).check_relation(
                    RelationCheckRequest(
                        auth_context=auth_context,
                        relation=check.ref,
                        resource=check.resource or "",
                        tenant=check.tenant,
                    )
                )
            case AuthRequirementKind.ROLE:
                return self._required(where, check, self._role_checker).check_role(
                    RoleCheckRequest(
                        auth_context=auth_context, role=check.ref, tenant=check.tenant
                    )
                )
            case AuthRequirementKind.SCOPE:
                return self._required(where, check, self._scope_checker).check_scope(
                    ScopeCheckRequest(auth_context=auth_context, scope=check.ref)
                )
            case _:
                raise self.unavailable(
                    _INTERNAL, f"{where}: no checker evaluates this requirement kind"
                )

    def _required[P](self, where: str, check: RequirementCheck, port: P | None) -> P:
        if port is None:
            raise self.unavailable(
                _INTERNAL, f"{where}: no {_port_name(check)} is registered"
            )
        return port


_PORT_NAMES: Final = {
    AuthRequirementKind.AUTHENTICATED: "",
    AuthRequirementKind.POLICY: IAuthorizationPolicyEvaluator.__name__,
    AuthRequirementKind.PERMISSION: IPermissionChecker.__name__,
    AuthRequirementKind.RELATION: IRelationChecker.__name__,
    AuthRequirementKind.ROLE: IRoleChecker.__name__,
    AuthRequirementKind.SCOPE: IScopeChecker.__name__,
}


def _port_name(check: RequirementCheck) -> str:
    return _PORT_NAMES.get(check.kind, "checker")


def _challenge(
    reason_code: AuthorizationReasonCode, task_name: str
) -> TaskAuthenticationRequiredError:
    return TaskAuthenticationRequiredError(
        reason_code,
        f"{task_name}: the snapshot verifier refused the "
        f"{AUTH_CONTEXT_SNAPSHOT_METADATA_KEY} header",
    )
