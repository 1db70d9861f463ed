"""spakky-dispatch-outbox: a ``@task`` dispatched in a transaction is sent iff it commits.

Load the plugin (``PLUGIN_NAME``) next to spakky-celery or spakky-taskiq, and
spakky-data with spakky-sqlalchemy. Inside a ``@Transactional`` method a task
call is stored in the ``spakky_task_outbox`` table, in the same transaction;
the relay publishes it through the transport after the commit, with the task
id the caller's handle already has. See docs/transactional-dispatch.md.
"""

from spakky.core.application.plugin import Plugin

from spakky.dispatch.outbox.codec import decode, encode
from spakky.dispatch.outbox.config import TaskOutboxConfig
from spakky.dispatch.outbox.error import (
    AsyncRelayUnavailableError,
    CorruptOutboxMessageError,
    NoTransactionError,
    TaskOutboxNotConfiguredError,
    TransactionKindMismatchError,
    UnstorableTaskError,
)
from spakky.dispatch.outbox.partition import current_partition, outbox_partition
from spakky.dispatch.outbox.ports import (
    AbandonedTask,
    IAsyncTaskOutboxStorage,
    ITaskOutbox,
    ITaskOutboxStorage,
)
from spakky.dispatch.outbox.relay import RelayReport
from spakky.dispatch.outbox.result import StoredTaskResult
from spakky.dispatch.outbox.sender import TaskOutboxDecorator, TransactionalTaskSender
from spakky.dispatch.outbox.services import AsyncTaskOutboxRelay, TaskOutboxRelay
from spakky.dispatch.outbox.wakeup import RelaySignal

PLUGIN_NAME = Plugin(name="spakky-dispatch-outbox")
"""Identifier of this plugin for ``load_plugins(include=...)``."""

__all__ = [
    "PLUGIN_NAME",
    "AbandonedTask",
    "AsyncRelayUnavailableError",
    "AsyncTaskOutboxRelay",
    "CorruptOutboxMessageError",
    "IAsyncTaskOutboxStorage",
    "ITaskOutbox",
    "ITaskOutboxStorage",
    "NoTransactionError",
    "RelayReport",
    "RelaySignal",
    "StoredTaskResult",
    "TaskOutboxConfig",
    "TaskOutboxDecorator",
    "TaskOutboxNotConfiguredError",
    "TaskOutboxRelay",
    "TransactionKindMismatchError",
    "TransactionalTaskSender",
    "UnstorableTaskError",
    "current_partition",
    "decode",
    "encode",
    "outbox_partition",
]
