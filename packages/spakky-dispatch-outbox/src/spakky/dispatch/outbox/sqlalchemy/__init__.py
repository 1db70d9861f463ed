"""The task outbox on spakky-sqlalchemy: table, storages and the outbox pod."""

from spakky.dispatch.outbox.sqlalchemy.outbox import SqlAlchemyTaskOutbox
from spakky.dispatch.outbox.sqlalchemy.storage import (
    AsyncSqlAlchemyTaskOutboxStorage,
    SqlAlchemyTaskOutboxStorage,
)
from spakky.dispatch.outbox.sqlalchemy.table import (
    TASK_OUTBOX_TABLE,
    TaskOutboxTable,
    create_task_outbox_table,
)

__all__ = [
    "TASK_OUTBOX_TABLE",
    "AsyncSqlAlchemyTaskOutboxStorage",
    "SqlAlchemyTaskOutbox",
    "SqlAlchemyTaskOutboxStorage",
    "TaskOutboxTable",
    "create_task_outbox_table",
]
