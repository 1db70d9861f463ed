"""Random ids of the spans a worker opens.

They come from Python's PRNG, as with OpenTelemetry's default id generator:
trace ids are not secrets, and unlike ``secrets.token_hex`` (spakky-tracing's)
it costs no system call per task. ``random`` reseeds itself in a forked
child, so prefork workers differ.
"""

from random import getrandbits

from spakky.tracing import TraceContext

_TRACE_ID_HEX = 32
"""Hex digits of a W3C trace id (128 bits); a span id has 16 (64 bits)."""
_ROOT_ID_BITS = 192
"""Random bits of a new root: its trace id and its span id."""
_SPAN_ID_BITS = 64
"""Random bits of a span id."""
_ZERO_TRACE_ID = "0" * 32
_ZERO_SPAN_ID = "0" * 16


def new_root() -> TraceContext:
    """A new root context: fresh random trace and span ids, neither all zeros."""
    ids = f"{getrandbits(_ROOT_ID_BITS):048x}"
    trace_id, span_id = ids[:_TRACE_ID_HEX], ids[_TRACE_ID_HEX:]
    if trace_id == _ZERO_TRACE_ID or span_id == _ZERO_SPAN_ID:
        return new_root()  # W3C forbids all-zero ids
    return TraceContext(trace_id=trace_id, span_id=span_id)


def new_span_id() -> str:
    """A fresh random span id, never all zeros."""
    span_id = f"{getrandbits(_SPAN_ID_BITS):016x}"
    return new_span_id() if span_id == _ZERO_SPAN_ID else span_id
