"""``TaskOutboxTable``: the task outbox, a table of its own (``spakky_task_outbox``).

Its columns are those of spakky-outbox's event outbox plus ``last_error``.
Being a separate table is what keeps the event relay (which claims every
pending row of ``spakky_event_outbox``) away from task messages.
"""

from datetime import datetime
from typing import cast
from uuid import UUID

from spakky.plugins.sqlalchemy.orm.table import AbstractTable
from sqlalchemy import JSON, DateTime, Engine, Index, LargeBinary, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

TASK_OUTBOX_TABLE = "spakky_task_outbox"
"""Name of the task outbox table."""


class TaskOutboxTable(AbstractTable):
    """One task message waiting for (or done with) the relay."""

    __tablename__ = TASK_OUTBOX_TABLE

    id: Mapped[UUID] = mapped_column(primary_key=True)
    event_name: Mapped[str] = mapped_column(Text, nullable=False)
    """The task name (spakky-outbox's message calls it the event name)."""
    payload: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    """The task's id, arguments and options, as JSON."""
    headers: Mapped[dict[str, str]] = mapped_column(JSON, nullable=False, default=dict)
    partition_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    published_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    retry_count: Mapped[int] = mapped_column(default=0)
    claimed_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    abandoned_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    """The transport's last refusal of this message."""

    __table_args__ = (
        Index("ix_spakky_task_outbox_pending", "published_at", "created_at"),
        Index("ix_spakky_task_outbox_partition", "partition_key", "created_at"),
    )


def create_task_outbox_table(engine: Engine) -> None:
    """Create the task outbox table in ``engine``'s database, if it is missing."""
    cast(Table, TaskOutboxTable.__table__).create(engine, checkfirst=True)
