"""Task handlers for the auth adapter's unit tests."""

import asyncio
from datetime import timedelta

from spakky.auth import (
    AUTH_CONTEXT_CONTEXT_KEY,
    AuthContext,
    protected,
    public_access,
    require_permission,
    require_policy,
    require_relation,
    require_role,
    require_scope,
)
from spakky.core.pod.interfaces.application_context import IApplicationContext
from spakky.core.pod.interfaces.aware.application_context_aware import (
    IApplicationContextAware,
)
from spakky.task import TaskHandler, schedule, task


def describe(value: object) -> dict[str, object] | None:
    """What a task body sees of the ambient ``AuthContext``."""
    if not isinstance(value, AuthContext):
        return None
    return {
        "subject": value.subject.id,
        "roles": list(value.roles),
        "scopes": list(value.scopes),
        "carrier": value.credential_carrier is not None,
    }


class Recording(IApplicationContextAware):
    """A handler base that records which bodies ran and what identity they saw."""

    def __init__(self) -> None:
        self.runs: list[str] = []
        self.context: IApplicationContext | None = None

    def set_application_context(self, application_context: IApplicationContext) -> None:
        self.context = application_context

    def seen(self, name: str) -> dict[str, object] | None:
        self.runs.append(name)
        assert self.context is not None
        return describe(self.context.get_context_value(AUTH_CONTEXT_CONTEXT_KEY))


@TaskHandler()
class ReportHandler(Recording):
    """Tasks with every kind of requirement, and unprotected ones."""

    @task
    def open_report(self) -> dict[str, object] | None:
        return self.seen("open_report")

    @public_access
    @task
    def public_report(self) -> dict[str, object] | None:
        return self.seen("public_report")

    @protected
    @task
    def whoami(self) -> dict[str, object] | None:
        return self.seen("whoami")

    @protected
    @task
    async def whoami_async(self) -> dict[str, object] | None:
        await asyncio.sleep(0)
        return self.seen("whoami_async")

    @protected
    @task
    def explode(self) -> None:
        self.seen("explode")
        raise ValueError("the body failed")

    @require_role("admin")
    @task
    def purge(self) -> dict[str, object] | None:
        return self.seen("purge")

    @require_scope("reports:write")
    @task
    def write(self) -> dict[str, object] | None:
        return self.seen("write")

    @require_permission("reports.read", resource="report", tenant="acme")
    @task
    def read(self) -> dict[str, object] | None:
        return self.seen("read")

    @require_policy("report", "export", tenant="acme")
    @task
    def export(self) -> dict[str, object] | None:
        return self.seen("export")

    @require_relation("owner", resource="report:1")
    @task
    def transfer(self) -> dict[str, object] | None:
        return self.seen("transfer")

    @require_scope("reports:write")
    @require_role("admin")
    @task
    def purge_and_write(self) -> dict[str, object] | None:
        return self.seen("purge_and_write")

    @schedule(interval=timedelta(minutes=5))
    def tick(self) -> None:
        self.runs.append("tick")


@require_role("auditor")
@TaskHandler()
class AuditHandler(Recording):
    """A protected class: every task inherits its requirement."""

    @task
    def audit(self) -> dict[str, object] | None:
        return self.seen("audit")


@TaskHandler()
class NightlyHandler:
    """A protected @schedule method: refused at startup."""

    @protected
    @schedule(interval=timedelta(hours=1))
    def rebuild(self) -> None: ...


@require_role("ops")
@TaskHandler()
class OpsHandler:
    """A protected class with a @schedule method: refused at startup."""

    @schedule(interval=timedelta(hours=1))
    def rotate(self) -> None: ...

    @task
    def rotate_now(self) -> None: ...


@TaskHandler()
class ConflictingHandler:
    """A task both public and protected: refused at startup."""

    @public_access
    @protected
    @task
    def both(self) -> None: ...


@TaskHandler()
class ArgumentHandler(Recording):
    """Protected tasks with arguments, to bind snapshots to them."""

    @protected
    @task
    def refund(self, order_id: str, amount: int) -> dict[str, object]:
        self.seen("refund")
        return {"refunded": order_id, "amount": amount}

    @protected
    @task
    def claims(self) -> dict[str, object]:
        """Which claims the task body sees (the binding claim never)."""
        self.seen("claims")
        assert self.context is not None
        value = self.context.get_context_value(AUTH_CONTEXT_CONTEXT_KEY)
        assert isinstance(value, AuthContext)
        return {"claims": sorted(claim.name for claim in value.claims)}

    @require_role("admin")
    @task
    def delete_user(self, user_id: str) -> dict[str, object]:
        self.seen("delete_user")
        return {"deleted": user_id}

    @protected
    @task
    def anything(self, *args: object, **kwargs: object) -> dict[str, object]:
        self.seen("anything")
        return {"args": list(args), "kwargs": kwargs}

    @task
    def open_anything(self, *args: object, **kwargs: object) -> None:
        self.seen("open_anything")
