"""``TraceHeaderPropagator``: the core's header port for spakky-tracing."""

from collections.abc import Mapping, MutableMapping
from random import getrandbits
from types import TracebackType
from typing import override

from spakky.core.pod.annotations.order import Order
from spakky.core.pod.annotations.pod import Pod
from spakky.tracing import ITracePropagator, TraceContext, W3CTracePropagator

from spakky.dispatch.core.adapter import IHeaderPropagator, TaskCall
from spakky.dispatch.tracing.composite import CompositeTracePropagator
from spakky.dispatch.tracing.validation import TRACEPARENT_HEADER, parse_traceparent

TRACE_PROPAGATION_ORDER = 200
"""``@Order`` of the trace propagator: after auth (100), so auth is outermost."""

_TRACE_ID_HEX = 32
"""Hex digits of a W3C trace id (128 bits); a span id has 16 (64 bits)."""
_ROOT_ID_BITS = 192
"""Random bits of a new root: its trace id and its span id."""
_SPAN_ID_BITS = 64
"""Random bits of a span id."""
_ZERO_TRACE_ID = "0" * 32
_ZERO_SPAN_ID = "0" * 16


class TraceScope:
    """Makes a ``TraceContext`` current for a block, then restores the previous one.

    The previous context (usually none) comes back also when the block raises.
    """

    __slots__ = ("_context", "_previous")

    _context: TraceContext
    _previous: TraceContext | None

    def __init__(self, context: TraceContext) -> None:
        self._context = context
        self._previous = None

    @property
    def context(self) -> TraceContext:
        """The context made current by this scope."""
        return self._context

    def __enter__(self) -> None:
        self._previous = TraceContext.get()
        TraceContext.set(self._context)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        previous, self._previous = self._previous, None
        if previous is None:
            TraceContext.clear()
        else:
            TraceContext.set(previous)


@Order(TRACE_PROPAGATION_ORDER)
@Pod()
class TraceHeaderPropagator(IHeaderPropagator):
    """Carries the caller's ``TraceContext`` to the worker in task headers.

    Dispatching: every ``ITracePropagator`` in the container writes the current
    context in its format (nothing when no context is current, or when no
    propagator is registered). Worker: the task runs in a child span of the
    carried context, or in a new root trace when the headers carry none that
    is valid; the previous context comes back after the task.
    """

    _composite: CompositeTracePropagator
    _fields: frozenset[str]
    _w3c_only: bool

    def __init__(self, propagators: list[ITracePropagator] | None = None) -> None:
        self._composite = CompositeTracePropagator(propagators or ())
        self._fields = frozenset(self._composite.fields())
        self._w3c_only = [type(each) for each in self._composite.propagators] == [
            W3CTracePropagator
        ]

    @property
    def composite(self) -> CompositeTracePropagator:
        """The container's trace propagators, composed in their run order."""
        return self._composite

    @override
    def fields(self) -> frozenset[str]:
        return self._fields

    @override
    def inject(self, carrier: MutableMapping[str, str], call: TaskCall) -> None:
        if not self._fields:
            return
        written: dict[str, str] = {}
        self._composite.inject(written)
        carrier.update(written)

    @override
    def restore(self, carrier: Mapping[str, str], call: TaskCall) -> TraceScope:
        return TraceScope(self.context_for(carrier) if carrier else _new_root())

    def context_for(self, carrier: Mapping[str, str]) -> TraceContext:
        """Return the context a task receiving ``carrier`` runs in.

        A child of the carried context, or a new root when there is none.
        """
        if not carrier:
            return _new_root()
        if self._w3c_only:
            return _child_of(carrier.get(TRACEPARENT_HEADER))
        parent = self._composite.extract(carrier)
        return _new_root() if parent is None else parent.child()


def _child_of(traceparent: str | None) -> TraceContext:
    """A child of ``traceparent``, or a new root when it is absent or invalid.

    What the composite gives with spakky-tracing's ``W3CTracePropagator`` as
    its only propagator (validate, ``from_traceparent``, check, ``child()``),
    parsed once.
    """
    parent = None if traceparent is None else parse_traceparent(traceparent)
    if parent is None:
        return _new_root()
    trace_id, span_id, flags = parent
    return TraceContext(
        trace_id=trace_id,
        span_id=_new_span_id(),
        parent_span_id=span_id,
        trace_flags=flags,
    )


# The ids of the spans a worker opens come from Python's PRNG, as with
# OpenTelemetry's default id generator: trace ids are not secrets, and unlike
# ``secrets.token_hex`` (spakky-tracing's) it costs no system call per task.
# ``random`` reseeds itself in a forked child, so prefork workers differ.


def _new_root() -> TraceContext:
    """A new root context: fresh random trace and span ids, neither all zeros."""
    ids = f"{getrandbits(_ROOT_ID_BITS):048x}"
    trace_id, span_id = ids[:_TRACE_ID_HEX], ids[_TRACE_ID_HEX:]
    if trace_id == _ZERO_TRACE_ID or span_id == _ZERO_SPAN_ID:
        return _new_root()  # W3C forbids all-zero ids
    return TraceContext(trace_id=trace_id, span_id=span_id)


def _new_span_id() -> str:
    """A fresh random span id, never all zeros."""
    span_id = f"{getrandbits(_SPAN_ID_BITS):016x}"
    return _new_span_id() if span_id == _ZERO_SPAN_ID else span_id


TRACING_COMPONENTS: tuple[type, ...] = (TraceHeaderPropagator,)
"""The pods a transport plugin adds for trace propagation."""
