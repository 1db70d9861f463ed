"""What the auth adapter adds per dispatch and per invocation, in the core.

Two core applications (``core_app``): one with the auth adapter and
spakky-cryptography's HS256 signer and verifier, one with no propagator at
all; ``python -m benchmarks --only cost``.
"""

from collections.abc import Callable
from typing import override

from spakky.auth import (
    AUTH_CONTEXT_CONTEXT_KEY,
    AuthContext,
    AuthorizationDecision,
    AuthorizationReasonCode,
    AuthSubject,
    CredentialCarrier,
    CredentialCarrierKind,
    CredentialCarrierLocation,
    IRoleChecker,
    RoleCheckRequest,
    protected,
    require_role,
)
from spakky.auth.startup import auth_snapshot_propagation_config
from spakky.core.pod.annotations.pod import Pod, PodType
from spakky.plugins.cryptography import (
    CryptographyAuthProvider,
    CryptographyAuthProviderConfig,
    Key,
)
from spakky.task import TaskHandler, task

from benchmarks.cost.core_app import CoreApp, cost_row
from benchmarks.harness.core_api import TaskDispatcher, TaskInvoker
from benchmarks.harness.env import environment
from benchmarks.harness.rows import Row
from benchmarks.harness.timing import compare
from spakky.dispatch.auth import (
    AuthSnapshotPropagator,
    TaskAuthConfig,
    TaskAuthorizer,
    TaskAuthStartupValidationService,
)

AUTH_PODS: tuple[PodType, ...] = (
    auth_snapshot_propagation_config,
    TaskAuthConfig,
    TaskAuthorizer,
    AuthSnapshotPropagator,
    TaskAuthStartupValidationService,
    CryptographyAuthProviderConfig,
    CryptographyAuthProvider,
)
ADMIN = AuthContext(
    subject=AuthSubject(id="user-42"),
    issuer="https://issuer.example",
    roles=("reader", "admin"),
    scopes=("reports:read",),
    credential_carrier=CredentialCarrier(
        kind=CredentialCarrierKind.BEARER_TOKEN,
        location=CredentialCarrierLocation.AUTHORIZATION_HEADER,
        material="tok_live_4f9c2e7b8a1d6e3f0b5c9a2d",
    ),
)
WITHOUT = "raw: the core without the adapter"


@Pod()
class HeldRoles(IRoleChecker):
    """Allows the roles the identity holds."""

    @override
    def check_role(self, request: RoleCheckRequest) -> AuthorizationDecision:
        if request.role in request.auth_context.roles:
            return AuthorizationDecision.allow()
        return AuthorizationDecision.deny(AuthorizationReasonCode.INSUFFICIENT_ROLE)


@TaskHandler()
class AuthCostHandler:
    """One unprotected, one authenticated-only and one role-protected task."""

    @task
    def plain(self) -> int:
        return 1

    @protected
    @task
    def authenticated(self) -> int:
        return 1

    @require_role("admin")
    @task
    def admin_only(self) -> int:
        return 1


class Side(CoreApp):
    """The core with (or without) the adapter, and how to run its tasks."""

    def dispatch(self, name: str) -> Callable[[], object]:
        binding, dispatch = self.tasks[name], self.context.get(TaskDispatcher).dispatch
        return lambda: dispatch(binding, (), {})

    def invoke(self, name: str) -> Callable[[], object]:
        self.context.get(TaskDispatcher).dispatch(self.tasks[name], (), {})
        message = self.sender.messages[0]
        self.sender.clear()
        invoke = self.context.get(TaskInvoker).invoke_message
        return lambda: invoke(message)


ROWS = (
    (
        "dispatch @protected, caller has an AuthContext (signs)",
        "dispatch",
        "authenticated",
    ),
    ("dispatch unprotected, caller has an AuthContext", "dispatch", "plain"),
    ("dispatch @protected, no AuthContext (no header)", "dispatch", "authenticated"),
    ("invoke unprotected task", "invoke", "plain"),
    ("invoke @protected task (verify, binding, seed)", "invoke", "authenticated"),
    ("invoke @require_role task (+1 check)", "invoke", "admin_only"),
)


def auth_rows(number: int, repeat: int) -> list[Row]:
    """With the auth adapter against without, per path."""
    with environment(
        SPAKKY_CRYPTOGRAPHY_SNAPSHOT_KEY=Key(size=32).b64_urlsafe,
        SPAKKY_AUTH_SNAPSHOT_PROPAGATION_ENABLED="true",
    ):
        sides = {
            "with": Side(*AUTH_PODS, HeldRoles, AuthCostHandler),
            "without": Side(HeldRoles, AuthCostHandler),
        }
    rows = []
    try:
        for label, kind, name in ROWS:
            for side in sides.values():
                side.context.clear_context()
                if "no AuthContext" not in label:
                    side.context.set_context_value(AUTH_CONTEXT_CONTEXT_KEY, ADMIN)
            samplers = {
                s: side.sampler(getattr(side, kind)(name)) for s, side in sides.items()
            }
            stats = compare(samplers, number=number, repeat=repeat)
            rows.append(cost_row(f"auth: {label}", stats, "with", "without", WITHOUT))
    finally:
        for side in sides.values():
            side.app.stop()
    return rows
