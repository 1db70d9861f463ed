"""Errors raised by the Celery adapter; the others are the core's."""

from spakky.dispatch.core.adapter import AbstractSpakkyDispatchError


class UnknownQueueError(AbstractSpakkyDispatchError):
    """A dispatch names a queue the application does not declare."""

    message = "Unknown queue"
