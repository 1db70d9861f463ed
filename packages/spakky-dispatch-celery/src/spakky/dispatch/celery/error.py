"""Errors raised by the Celery adapter."""

from spakky.dispatch.core import (
    AbstractSpakkyDispatchError,
    BrokerUnavailableError,
    TaskDispatchError,
    TaskResultError,
)


class CeleryConfigurationError(AbstractSpakkyDispatchError):
    """The ``SPAKKY_CELERY__*`` settings are missing or invalid."""

    message = "Celery configuration is invalid; fix the SPAKKY_CELERY__* variables"


class ReservedHeaderError(AbstractSpakkyDispatchError):
    """A propagation header would overwrite one of Celery's own message fields."""

    message = (
        "A propagation header uses a name that Celery's message protocol reserves; "
        "rename the propagator's header"
    )


class UnknownQueueError(AbstractSpakkyDispatchError):
    """A dispatch names a queue the application does not declare."""

    message = "Unknown queue"


class BrokerRejectedError(TaskDispatchError):
    """The broker received the message but refused it; it will not run."""

    message = (
        "Broker refused the message, so it was not queued; check the queue's "
        "limits and arguments and the broker's alarms (disk, memory)"
    )


class ResultBackendUnavailableError(TaskResultError):
    """The result backend could not be read within the configured time."""

    message = (
        "Result backend is unreachable, so the task's state is unknown; check "
        "SPAKKY_CELERY__RESULT_BACKEND and that the backend is running, then ask "
        "again (the task itself may still run)"
    )


class PublishUnconfirmedError(BrokerUnavailableError):
    """The broker stopped answering mid-publish: the message may or may not be queued."""

    message = (
        "Broker stopped answering after the message was written, so it may still "
        "be queued and the task may run; retry only an idempotent task, or check "
        "for the task's effect before sending it again"
    )
