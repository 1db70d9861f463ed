"""The order table, the e-mail task and the use case that places an order."""

import json
import os
from typing import Any

from spakky.core.pod.annotations.pod import Pod
from spakky.data.aspects.transactional import Transactional
from spakky.plugins.sqlalchemy.orm.table import AbstractTable
from spakky.plugins.sqlalchemy.persistency.session_manager import SessionManager
from spakky.task import TaskHandler, task
from spakky.task.interfaces.task_result import ITaskResult
from sqlalchemy import Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

MAILBOX = "TRANSACTIONAL_EXAMPLE_MAILBOX"
"""Variable naming the file the e-mail task writes to (the stand-in for SMTP)."""


class OrderTable(AbstractTable):
    """A placed order."""

    __tablename__ = "orders"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    email: Mapped[str] = mapped_column(Text)
    total_cents: Mapped[int] = mapped_column(Integer)


class OutOfStockError(Exception):
    """The order cannot be placed; the transaction rolls back."""


@TaskHandler()
class MailTasks:
    @task
    def send_confirmation(self, order_id: str, email: str) -> str:
        with open(os.environ[MAILBOX], "a", encoding="utf-8") as mailbox:
            line = {"to": email, "order": order_id, "worker_pid": os.getpid()}
            mailbox.write(json.dumps(line) + "\n")
        return f"confirmation for {order_id} sent to {email}"


@Pod()
class PlaceOrder:
    """Writes the order and dispatches its e-mail in one transaction."""

    def __init__(self, sessions: SessionManager, mail: MailTasks) -> None:
        self._sessions = sessions
        self._mail = mail

    @Transactional()
    def place(self, order_id: str, email: str, total_cents: int) -> ITaskResult[Any]:
        self._sessions.session.add(
            OrderTable(id=order_id, email=email, total_cents=total_cents)
        )
        confirmation: ITaskResult[Any] = self._mail.send_confirmation(order_id, email)  # type: ignore[assignment]
        if total_cents > 100_000:
            raise OutOfStockError(order_id)  # after the dispatch: rolled back too
        return confirmation
