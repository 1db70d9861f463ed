"""Building a ``TraceContext`` without its dataclass ``__init__``.

This module is the one place that relies on how spakky-tracing's
``TraceContext`` is built. It is a frozen dataclass without slots, so its
generated ``__init__`` stores each of its four fields with
``object.__setattr__`` (about 0.9 µs); ``make_context`` writes the same four
values into the new instance's ``__dict__`` (about 0.3 µs). A worker builds
one context for every task (a child span or a new root).

Guard: ``context_shape_problem`` checks once that ``TraceContext`` is still
such a dataclass (the same fields in the same order, each set by
``__init__``, no ``__post_init__``, no slots, ``object.__new__``) and that a
context built here has the same attributes and behaviour (``to_traceparent``,
``child``) as one built by ``TraceContext(...)``. When it is not,
``make_context`` is ``TraceContext``'s own constructor, after one warning.
``tests/test_tracing_fast_context.py`` compares both.
"""

import dataclasses
import logging
from collections.abc import Callable
from functools import cache

from spakky.tracing import TraceContext

from spakky.dispatch.core.adapter import FallbackWarning, changed_checks

logger = logging.getLogger(__name__)

type ContextFactory = Callable[[str, str, str | None, int], TraceContext]
"""``(trace_id, span_id, parent_span_id, trace_flags) -> TraceContext``."""

_FIELDS = ("trace_id", "span_id", "parent_span_id", "trace_flags")
_new = object.__new__


def fast_context(
    trace_id: str, span_id: str, parent_span_id: str | None, trace_flags: int
) -> TraceContext:
    """A ``TraceContext`` of these values, built past its ``__init__``."""
    context: TraceContext = _new(TraceContext)
    values = context.__dict__
    values["trace_id"] = trace_id
    values["span_id"] = span_id
    values["parent_span_id"] = parent_span_id
    values["trace_flags"] = trace_flags
    return context


def public_context(
    trace_id: str, span_id: str, parent_span_id: str | None, trace_flags: int
) -> TraceContext:
    """A ``TraceContext`` of these values, built by its constructor."""
    return TraceContext(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent_span_id,
        trace_flags=trace_flags,
    )


@cache
def context_shape_problem() -> str | None:
    """Why ``TraceContext`` may no longer be built as here, or None."""
    try:
        fields = dataclasses.fields(TraceContext)
        sample = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", None, 1)
        child = ("4bf92f3577b34da6a3ce929d0e0e4736", "b7ad6b7169203331", "a" * 16, 0)
        built = [fast_context(*values) for values in (sample, child)]
        public = [public_context(*values) for values in (sample, child)]
        checks = {
            "fields": tuple(field.name for field in fields) == _FIELDS
            and all(field.init for field in fields),
            "__post_init__": not hasattr(TraceContext, "__post_init__"),
            "__slots__": "__slots__" not in vars(TraceContext),
            "__new__": TraceContext.__new__ is object.__new__,
            "attributes": [vars(each) for each in built]
            == [vars(each) for each in public],
            "to_traceparent": [each.to_traceparent() for each in built]
            == [each.to_traceparent() for each in public],
            "child": built[0].child().trace_id == public[0].trace_id,
            "frozen": _frozen(built[0]),
        }
    except Exception as error:  # any failure means the shape is not the known one
        return f"spakky-tracing changed ({type(error).__name__}: {error})"
    return changed_checks(checks)


def _frozen(context: TraceContext) -> bool:
    """Whether assigning to the context still fails, as for a built one."""
    try:
        context.trace_id = "0" * 32  # type: ignore[misc]
    except dataclasses.FrozenInstanceError:
        return True
    return False


_warn = FallbackWarning(
    logger,
    "spakky-dispatch-tracing: spakky-tracing's TraceContext differs from the "
    "one its fast construction was written for (%s); task trace contexts are "
    "built by TraceContext(...), which is correct but slower. Update "
    "spakky-dispatch-tracing.",
)
"""Logs the probe's finding once per process."""


def context_factory() -> ContextFactory:
    """``fast_context``, or ``public_context`` (one warning) when the check fails."""
    problem = context_shape_problem()
    if problem is not None:
        _warn(problem)
        return public_context
    return fast_context
