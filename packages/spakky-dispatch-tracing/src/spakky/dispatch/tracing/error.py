"""Errors raised by the trace propagation adapter."""

from abc import ABC

from spakky.dispatch.core.adapter import AbstractSpakkyDispatchError


class AbstractSpakkyDispatchTracingError(AbstractSpakkyDispatchError, ABC):
    """Root of every error raised by spakky-dispatch-tracing."""

    message = "Trace propagation failed"


class InvalidTracePropagatorError(AbstractSpakkyDispatchTracingError):
    """An ``ITracePropagator`` declares header fields that cannot be carried."""

    message = (
        "An ITracePropagator declares unusable header fields; its fields() must "
        "return a non-empty list of non-empty header names (str)"
    )
