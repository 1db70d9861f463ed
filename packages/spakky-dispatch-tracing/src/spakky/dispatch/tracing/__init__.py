"""spakky-dispatch-tracing: carries spakky-tracing's TraceContext across the broker.

``TraceHeaderPropagator`` implements the core's ``IHeaderPropagator`` port with
every ``ITracePropagator`` found in the container, composed in ``@Order``.
"""

from spakky.dispatch.tracing.composite import (
    CompositeTracePropagator,
    propagation_order,
)
from spakky.dispatch.tracing.error import (
    AbstractSpakkyDispatchTracingError,
    InvalidTracePropagatorError,
)
from spakky.dispatch.tracing.propagator import (
    TRACE_PROPAGATION_ORDER,
    TRACING_COMPONENTS,
    TraceHeaderPropagator,
    TraceScope,
)
from spakky.dispatch.tracing.validation import (
    TRACEPARENT_HEADER,
    admissible_header,
    is_valid_trace_context,
    is_valid_traceparent,
)

__all__ = [
    "TRACEPARENT_HEADER",
    "TRACE_PROPAGATION_ORDER",
    "TRACING_COMPONENTS",
    "AbstractSpakkyDispatchTracingError",
    "CompositeTracePropagator",
    "InvalidTracePropagatorError",
    "TraceHeaderPropagator",
    "TraceScope",
    "admissible_header",
    "is_valid_trace_context",
    "is_valid_traceparent",
    "propagation_order",
]
