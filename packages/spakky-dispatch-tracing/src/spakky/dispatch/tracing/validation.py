"""Strict checks on inbound trace headers and on extracted trace contexts.

Inbound data is never trusted: a value that fails these checks is treated as
absent, so the task starts a new root trace instead of failing.
"""

import re
from typing import Final, TypeGuard

from spakky.tracing import TraceContext

TRACEPARENT_HEADER: Final = "traceparent"
"""The W3C Trace Context header that carries the parent span."""

_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_TRACE_ID = re.compile(r"[0-9a-f]{32}")
_SPAN_ID = re.compile(r"[0-9a-f]{16}")
_ZERO_TRACE_ID: Final = "0" * 32
_ZERO_SPAN_ID: Final = "0" * 16
_MAX_TRACE_FLAGS: Final = 0xFF


def is_valid_traceparent(value: str) -> bool:
    """Return whether ``value`` is a well-formed version-00 W3C ``traceparent``.

    The whole value must match ``00-<32 hex>-<16 hex>-<2 hex>`` in lower case,
    with no surrounding whitespace, and neither id may be all zeros. Version
    ``ff`` is invalid by the W3C specification and later versions are not
    defined yet, so both are rejected and the trace restarts.
    """
    return parse_traceparent(value) is not None


def parse_traceparent(value: str) -> tuple[str, str, int] | None:
    """Return the trace id, span id and flags of a valid ``traceparent``.

    None when ``is_valid_traceparent(value)`` is false; the fields are those
    ``TraceContext.from_traceparent`` reads from such a value.
    """
    match = _TRACEPARENT.fullmatch(value)
    if match is None or match[1] == _ZERO_TRACE_ID or match[2] == _ZERO_SPAN_ID:
        return None
    return match[1], match[2], int(match[3], 16)


def is_valid_trace_context(context: object) -> TypeGuard[TraceContext]:
    """Return whether ``context`` is a ``TraceContext`` with well-formed ids.

    Guards against propagators that return something other than a context,
    or ids that a W3C ``traceparent`` could not carry onwards.
    """
    if not isinstance(context, TraceContext):
        return False
    trace_id, span_id, flags = context.trace_id, context.span_id, context.trace_flags
    return (
        isinstance(trace_id, str)
        and _TRACE_ID.fullmatch(trace_id) is not None
        and trace_id != _ZERO_TRACE_ID
        and isinstance(span_id, str)
        and _SPAN_ID.fullmatch(span_id) is not None
        and span_id != _ZERO_SPAN_ID
        and type(flags) is int
        and 0 <= flags <= _MAX_TRACE_FLAGS
    )


def admissible_header(name: str, value: str) -> bool:
    """Return whether an inbound header may be shown to a trace propagator.

    Only headers of a known wire format are checked here (``traceparent``);
    every other header is left to the propagator that owns it.
    """
    return name != TRACEPARENT_HEADER or is_valid_traceparent(value)
