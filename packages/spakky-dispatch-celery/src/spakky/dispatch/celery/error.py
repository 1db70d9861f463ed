"""Errors raised by the Celery adapter."""

from spakky.dispatch.core import AbstractSpakkyDispatchError


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
