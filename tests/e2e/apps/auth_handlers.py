"""Handlers of the auth end-to-end tests: protected tasks and the auth providers.

Task bodies append their name to the file named by ``AUTH_E2E_RUNS``, so a test
sees which bodies ran on the worker. ``PermissionServiceDown`` stands for an
unreachable permission service and appends each attempt's time to the file
named by ``AUTH_E2E_ATTEMPTS``.
"""

import asyncio
import os
import time
from typing import override

from spakky.auth import (
    AUTH_CONTEXT_CONTEXT_KEY,
    AuthContext,
    AuthorizationDecision,
    AuthorizationReasonCode,
    IPermissionChecker,
    IRoleChecker,
    IScopeChecker,
    PermissionCheckRequest,
    RoleCheckRequest,
    ScopeCheckRequest,
    protected,
    require_permission,
    require_role,
)
from spakky.core.pod.annotations.pod import Pod
from spakky.core.pod.interfaces.application_context import IApplicationContext
from spakky.core.pod.interfaces.aware.application_context_aware import (
    IApplicationContextAware,
)
from spakky.task import TaskHandler, task


def _append(variable: str, line: str) -> None:
    path = os.environ.get(variable)
    if path:
        with open(path, "a", encoding="utf-8") as file:
            file.write(f"{line}\n")


@Pod()
class ClaimsChecker(IRoleChecker, IScopeChecker):
    """Allows the roles and scopes the verified identity holds; denies others."""

    @override
    def check_role(self, request: RoleCheckRequest) -> AuthorizationDecision:
        if request.role in request.auth_context.roles:
            return AuthorizationDecision.allow()
        return AuthorizationDecision.deny(AuthorizationReasonCode.INSUFFICIENT_ROLE)

    @override
    def check_scope(self, request: ScopeCheckRequest) -> AuthorizationDecision:
        if request.scope in request.auth_context.scopes:
            return AuthorizationDecision.allow()
        return AuthorizationDecision.deny(AuthorizationReasonCode.INSUFFICIENT_SCOPE)


@Pod()
class PermissionServiceDown(IPermissionChecker):
    """A permission checker whose backing service cannot be reached."""

    @override
    def check_permission(
        self, request: PermissionCheckRequest
    ) -> AuthorizationDecision:
        _append("AUTH_E2E_ATTEMPTS", repr(time.time()))
        raise ConnectionError("permission service unreachable")


@TaskHandler()
class AccountHandler(IApplicationContextAware):
    """Protected and unprotected tasks reporting the identity they run as."""

    def __init__(self) -> None:
        self.context: IApplicationContext | None = None

    def set_application_context(self, application_context: IApplicationContext) -> None:
        self.context = application_context

    def _seen(self, name: str) -> dict[str, object]:
        _append("AUTH_E2E_RUNS", name)
        assert self.context is not None
        value = self.context.get_context_value(AUTH_CONTEXT_CONTEXT_KEY)
        if not isinstance(value, AuthContext):
            return {"subject": None, "worker_pid": os.getpid()}
        return {
            "subject": value.subject.id,
            "roles": list(value.roles),
            "carrier": value.credential_carrier is not None,
            "worker_pid": os.getpid(),
        }

    @protected
    @task
    def whoami(self) -> dict[str, object]:
        return self._seen("whoami")

    @protected
    @task
    async def whoami_async(self) -> dict[str, object]:
        await asyncio.sleep(0)
        return self._seen("whoami_async")

    @require_role("admin")
    @task
    def close_account(self, account_id: str) -> str:
        self._seen("close_account")
        return f"closed {account_id}"

    @require_permission("accounts.statement")
    @task
    def statement(self) -> dict[str, object]:
        return self._seen("statement")

    @task
    def ping(self) -> dict[str, object]:
        return self._seen("ping")
