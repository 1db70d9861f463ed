"""The shop of the transactional-dispatch tests: an order row and its e-mail task.

Task bodies append one JSON line per run to the file named by ``OUTBOX_E2E_RUNS``:
which task, for which order, with which task id, in which process, in which
trace, as whom. ``PlaceOrder.place`` writes the order and dispatches the e-mail
in one ``@Transactional`` method; ``fail=True`` raises after both, so the
transaction rolls back.
"""

import json
import os
import time
from typing import Any, override

from spakky.auth import (
    AUTH_CONTEXT_CONTEXT_KEY,
    AuthContext,
    AuthorizationDecision,
    AuthorizationReasonCode,
    IRoleChecker,
    RoleCheckRequest,
    require_role,
)
from spakky.core.pod.annotations.pod import Pod
from spakky.core.pod.interfaces.application_context import IApplicationContext
from spakky.core.pod.interfaces.aware.application_context_aware import (
    IApplicationContextAware,
)
from spakky.data.aspects.transactional import Transactional
from spakky.plugins.sqlalchemy.orm.table import AbstractTable
from spakky.plugins.sqlalchemy.persistency.session_manager import (
    AsyncSessionManager,
    SessionManager,
)
from spakky.task import TaskHandler, task
from spakky.task.interfaces.task_result import ITaskResult
from spakky.tracing import TraceContext
from sqlalchemy import Text
from sqlalchemy.orm import Mapped, mapped_column

from spakky.dispatch.core import current_task_execution


class OrderTable(AbstractTable):
    """One placed order."""

    __tablename__ = "shop_orders"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    email: Mapped[str] = mapped_column(Text)


@Pod()
class ClaimsRoleChecker(IRoleChecker):
    """Allows the roles the verified identity holds."""

    @override
    def check_role(self, request: RoleCheckRequest) -> AuthorizationDecision:
        if request.role in request.auth_context.roles:
            return AuthorizationDecision.allow()
        return AuthorizationDecision.deny(AuthorizationReasonCode.INSUFFICIENT_ROLE)


class OrderRefused(Exception):
    """Raised to roll a placement back."""


@TaskHandler()
class MailTasks(IApplicationContextAware):
    """Sends (records) the confirmation e-mail of an order."""

    def __init__(self) -> None:
        self.context: IApplicationContext | None = None

    def set_application_context(self, application_context: IApplicationContext) -> None:
        self.context = application_context

    def _record(self, name: str, order_id: str, **extra: Any) -> str:
        assert self.context is not None
        execution = current_task_execution(self.context)
        trace = TraceContext.get()
        auth = self.context.get_context_value(AUTH_CONTEXT_CONTEXT_KEY)
        line = {
            "task": name,
            "order": order_id,
            "task_id": None if execution is None else execution.task_id,
            "pid": os.getpid(),
            "trace_id": None if trace is None else trace.trace_id,
            "subject": auth.subject.id if isinstance(auth, AuthContext) else None,
            "at": time.time(),
            **extra,
        }
        path = os.environ.get("OUTBOX_E2E_RUNS")
        if path:
            with open(path, "a", encoding="utf-8") as file:
                file.write(json.dumps(line) + "\n")
        return f"mailed {order_id}"

    @task
    def confirm(self, order_id: str) -> str:
        return self._record("confirm", order_id)

    @task
    async def confirm_async(self, order_id: str) -> str:
        return self._record("confirm_async", order_id)

    @require_role("customer")
    @task
    def confirm_protected(self, order_id: str) -> str:
        return self._record("confirm_protected", order_id)


@Pod()
class PlaceOrder:
    """The use case: the order row and its e-mail, in one transaction."""

    def __init__(self, sessions: SessionManager, mail: MailTasks) -> None:
        self._sessions = sessions
        self._mail = mail

    @Transactional()
    def place(
        self, order_id: str, email: str, *, fail: bool = False, protected: bool = False
    ) -> ITaskResult[Any]:
        self._sessions.session.add(OrderTable(id=order_id, email=email))
        send = self._mail.confirm_protected if protected else self._mail.confirm
        handle: ITaskResult[Any] = send(order_id)  # type: ignore[assignment]
        if fail:
            raise OrderRefused(order_id)
        return handle

    @Transactional()
    def place_many(self, order_ids: list[str]) -> list[str]:
        ids = []
        for order_id in order_ids:
            self._sessions.session.add(OrderTable(id=order_id, email="x@example.com"))
            handle: ITaskResult[Any] = self._mail.confirm(order_id)  # type: ignore[assignment]
            ids.append(handle.task_id)
        return ids


@Pod()
class PlaceOrderAsync:
    """The same use case in async code: an async transaction and an async task."""

    def __init__(self, sessions: AsyncSessionManager, mail: MailTasks) -> None:
        self._sessions = sessions
        self._mail = mail

    @Transactional()
    async def place(self, order_id: str, *, fail: bool = False) -> ITaskResult[Any]:
        self._sessions.session.add(OrderTable(id=order_id, email="async@example.com"))
        handle: ITaskResult[Any] = await self._mail.confirm_async(order_id)  # type: ignore[misc]
        if fail:
            raise OrderRefused(order_id)
        return handle
