"""Random ids of the spans a worker opens.

They come from Python's PRNG, as with OpenTelemetry's default id generator:
trace ids are not secrets, and unlike ``secrets.token_hex`` (spakky-tracing's)
it costs no system call per task. ``random`` reseeds itself in a forked
child, so prefork workers differ.
"""

from random import getrandbits

from spakky.tracing import TraceContext

from spakky.dispatch.tracing.fast_context import ContextFactory, context_factory

_TRACE_ID_HEX = 32
"""Hex digits of a W3C trace id (128 bits); a span id has 16 (64 bits)."""
_ROOT_ID_BITS = 192
"""Random bits of a new root: its trace id and its span id."""
_SPAN_ID_BITS = 64
"""Random bits of a span id."""
_ZERO_TRACE_ID = "0" * 32
_ZERO_SPAN_ID = "0" * 16


_make: ContextFactory | None = None
"""How contexts are built (``fast_context``), chosen at the first one."""


def make_context(
    trace_id: str, span_id: str, parent_span_id: str | None, trace_flags: int
) -> TraceContext:
    """A ``TraceContext`` of these values (``fast_context`` when it is vouched for)."""
    global _make  # chosen once per process
    make = _make
    if make is None:
        make = _make = context_factory()
    return make(trace_id, span_id, parent_span_id, trace_flags)


def new_root() -> TraceContext:
    """A new root context: fresh random trace and span ids, neither all zeros."""
    ids = f"{getrandbits(_ROOT_ID_BITS):048x}"
    trace_id, span_id = ids[:_TRACE_ID_HEX], ids[_TRACE_ID_HEX:]
    if trace_id == _ZERO_TRACE_ID or span_id == _ZERO_SPAN_ID:
        return new_root()  # W3C forbids all-zero ids
    return make_context(trace_id, span_id, None, 1)


def new_span_id() -> str:
    """A fresh random span id, never all zeros."""
    span_id = f"{getrandbits(_SPAN_ID_BITS):016x}"
    return new_span_id() if span_id == _ZERO_SPAN_ID else span_id
