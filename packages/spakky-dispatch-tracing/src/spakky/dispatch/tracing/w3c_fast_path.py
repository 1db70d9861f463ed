"""The W3C fast path: a task's trace context in one parse of ``traceparent``.

This module is the one place that copies spakky-tracing's W3C handling. With
spakky-tracing's ``W3CTracePropagator`` as the only trace propagator, the
public path for a received ``traceparent`` is ``CompositeTracePropagator
.extract`` (the strict ``admissible_header`` check, then
``W3CTracePropagator.extract``: ``TraceContext.from_traceparent``, then
``is_valid_trace_context``) followed by ``TraceContext.child()``.
``child_of`` gives the same context from one match of the strict pattern: it
takes what ``from_traceparent`` reads from a value (trace id, span id, flags)
and builds what ``child()`` builds from them, with a span id from ``ids``.

Like the public path, it is stricter than spakky-tracing alone, on purpose
(inbound headers are untrusted, see ``validation``): only version ``00``, and
no surrounding whitespace, which spakky-tracing strips.

Guard: ``w3c_shape_problem`` checks once that spakky-tracing's propagator and
``TraceContext`` still read and write the values this copy assumes (known
good and bad samples, the header it writes, the child it builds). When they
do not, ``uses_w3c_fast_path`` logs one warning and answers False: the
composite (public) path runs. ``tests/test_tracing_w3c_fast_path.py``
compares both paths, and spakky-tracing's propagator, over many inputs.
"""

import logging
from collections.abc import Sequence
from contextvars import copy_context
from functools import cache

from spakky.tracing import ITracePropagator, TraceContext, W3CTracePropagator

from spakky.dispatch.core.adapter import FallbackWarning, changed_checks
from spakky.dispatch.tracing.ids import make_context, new_root, new_span_id
from spakky.dispatch.tracing.validation import TRACEPARENT_HEADER, parse_traceparent

logger = logging.getLogger(__name__)

_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
_SPAN_ID = "00f067aa0ba902b7"
_SAMPLES: tuple[tuple[str, tuple[str, str, int] | None], ...] = (
    (f"00-{_TRACE_ID}-{_SPAN_ID}-01", (_TRACE_ID, _SPAN_ID, 1)),
    (f"00-{_TRACE_ID}-{_SPAN_ID}-00", (_TRACE_ID, _SPAN_ID, 0)),
    (f"00-{_TRACE_ID}-{_SPAN_ID}-ff", (_TRACE_ID, _SPAN_ID, 255)),
    (f"00-{'0' * 32}-{_SPAN_ID}-01", None),
    (f"00-{_TRACE_ID}-{'0' * 16}-01", None),
    (f"00-{_TRACE_ID.upper()}-{_SPAN_ID}-01", None),
    (f"00-{_TRACE_ID[:-1]}-{_SPAN_ID}-01", None),
    (f"00-{_TRACE_ID}-{_SPAN_ID}-0g", None),
    (f"00-{_TRACE_ID}-{_SPAN_ID}-01-extra", None),
)
"""``traceparent`` values and what spakky-tracing reads from them (None: invalid)."""


def child_of(traceparent: str | None) -> TraceContext:
    """A child of ``traceparent``, or a new root when it is absent or invalid."""
    parent = None if traceparent is None else parse_traceparent(traceparent)
    if parent is None:
        return new_root()
    trace_id, span_id, flags = parent
    return make_context(trace_id, new_span_id(), span_id, flags)


def _written(context: TraceContext) -> dict[str, str]:
    """What spakky-tracing's own propagator writes for ``context`` (made current
    in a copied ``contextvars`` context, so the caller's stays as it is)."""

    def inject() -> dict[str, str]:
        carrier: dict[str, str] = {}
        TraceContext.set(context)
        W3CTracePropagator().inject(carrier)
        return carrier

    return copy_context().run(inject)


def _read(value: str) -> tuple[str, str, int] | None:
    """What spakky-tracing's own propagator reads from ``value``."""
    context = W3CTracePropagator().extract({TRACEPARENT_HEADER: value})
    if context is None:
        return None
    return context.trace_id, context.span_id, context.trace_flags


@cache
def w3c_shape_problem() -> str | None:
    """Why spakky-tracing no longer reads ``traceparent`` as copied here, or None."""
    try:
        sent = TraceContext(trace_id=_TRACE_ID, span_id=_SPAN_ID, trace_flags=1)
        carrier = _written(sent)
        value = f"00-{_TRACE_ID}-{_SPAN_ID}-01"
        child = TraceContext.from_traceparent(value).child()
        checks = {
            "W3CTracePropagator.fields": W3CTracePropagator().fields()
            == [TRACEPARENT_HEADER],
            "W3CTracePropagator.inject": carrier == {TRACEPARENT_HEADER: value},
            "W3CTracePropagator.extract": all(
                _read(sample) == parse_traceparent(sample) == expected
                for sample, expected in _SAMPLES
            ),
            "TraceContext.child": (
                child.trace_id,
                child.parent_span_id,
                child.trace_flags,
                len(child.span_id),
            )
            == (_TRACE_ID, _SPAN_ID, 1, len(_SPAN_ID)),
        }
    except Exception as error:  # any failure means the shape is not the known one
        return f"spakky-tracing changed ({type(error).__name__}: {error})"
    return changed_checks(checks)


_warn = FallbackWarning(
    logger,
    "spakky-dispatch-tracing: spakky-tracing differs from the one its W3C "
    "fast path was written for (%s); received trace headers go through the "
    "trace propagators, which is correct but slower. Update "
    "spakky-dispatch-tracing.",
)
"""Logs the probe's finding once per process."""


def uses_w3c_fast_path(propagators: Sequence[ITracePropagator]) -> bool:
    """Whether ``child_of`` may stand in for ``propagators``' extraction.

    Only for exactly spakky-tracing's ``W3CTracePropagator`` (not a subclass,
    which may parse otherwise), and, with one warning when not, only while
    ``w3c_shape_problem`` finds nothing.
    """
    if [type(each) for each in propagators] != [W3CTracePropagator]:
        return False
    problem = w3c_shape_problem()
    if problem is not None:
        _warn(problem)
        return False
    return True
