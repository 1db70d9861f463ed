"""Errors raised by the transactional outbox adapter."""

from spakky.dispatch.outbox.from_core import (
    AbstractSpakkyDispatchError,
    TaskArgumentSerializationError,
    TaskDispatchError,
)


class TaskOutboxNotConfiguredError(AbstractSpakkyDispatchError):
    """Transactional dispatch is loaded but no task outbox is registered."""

    message = (
        "spakky-dispatch-outbox has no task outbox to store messages in; load the "
        "spakky-data and spakky-sqlalchemy plugins too (the outbox table is "
        "spakky_task_outbox), or register your own ITaskOutbox pod"
    )


class UnstorableTaskError(TaskArgumentSerializationError):
    """A task call cannot be stored in the outbox as JSON; nothing was stored."""

    message = (
        "The task call cannot be stored in the transactional outbox, so nothing "
        "was stored; pass JSON data (str, int, float, bool, None, list, tuple, "
        "dict with str keys) or datetime, date, time, UUID or Decimal values"
    )


class CorruptOutboxMessageError(AbstractSpakkyDispatchError):
    """A stored outbox row cannot be read back as a task message."""

    message = (
        "An outbox row is not a task message this version can read; it is "
        "abandoned, not sent (inspect it in the spakky_task_outbox table)"
    )


class NoTransactionError(TaskDispatchError):
    """A task was dispatched outside a transaction while that is refused."""

    message = (
        "The task was dispatched outside a database transaction, which "
        "SPAKKY_DISPATCH_OUTBOX__OUTSIDE_TRANSACTION=refuse forbids, so nothing "
        "was sent; call it inside a @Transactional method, or set the variable "
        "to send"
    )


class TransactionKindMismatchError(TaskDispatchError):
    """A sync ``@task`` was called inside an async transaction."""

    message = (
        "A sync @task call cannot be stored in the async transaction that is "
        "active, so nothing was stored; make the @task method async (then await "
        "it), or dispatch it from a sync @Transactional method"
    )


class AsyncRelayUnavailableError(AbstractSpakkyDispatchError):
    """The async relay was chosen but the database is not used asynchronously."""

    message = (
        "SPAKKY_DISPATCH_OUTBOX__RELAY=async needs the async task outbox storage "
        "(spakky-sqlalchemy with SPAKKY_DATA__SUPPORT_ASYNC_MODE=true); use "
        "thread instead"
    )
