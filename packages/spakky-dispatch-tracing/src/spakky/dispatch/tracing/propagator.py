"""``TraceHeaderPropagator``: the core's header port for spakky-tracing."""

from collections.abc import Mapping, MutableMapping
from contextvars import ContextVar
from types import TracebackType
from typing import Final, override

from spakky.core.pod.annotations.order import Order
from spakky.core.pod.annotations.pod import Pod
from spakky.tracing import ITracePropagator, TraceContext

from spakky.dispatch.core.adapter import IHeaderPropagator, TaskCall
from spakky.dispatch.tracing.composite import CompositeTracePropagator
from spakky.dispatch.tracing.context_var import trace_var
from spakky.dispatch.tracing.ids import new_root
from spakky.dispatch.tracing.validation import TRACEPARENT_HEADER
from spakky.dispatch.tracing.w3c_fast_path import child_of, uses_w3c_fast_path

TRACE_PROPAGATION_ORDER = 200
"""``@Order`` of the trace propagator: after auth (100), so auth is outermost."""


_UNRESOLVED: Final = object()
_trace_var: object = _UNRESOLVED
"""spakky-tracing's variable (``context_var``), None for the public path; looked
up at the first scope."""


def _resolve_trace_var() -> "ContextVar[TraceContext | None] | None":
    global _trace_var  # resolved once per process
    var = _trace_var = trace_var()
    return var


class TraceScope:
    """Makes a ``TraceContext`` current for a block, then restores the previous one.

    The previous context (usually none) comes back also when the block raises.
    The context is read and written through spakky-tracing's own variable
    when ``context_var`` vouches for it, through ``TraceContext`` otherwise.
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
        var = _trace_var
        if var is _UNRESOLVED:
            var = _resolve_trace_var()
        if isinstance(var, ContextVar):
            self._previous = var.get()
            var.set(self._context)
            return
        self._previous = TraceContext.get()
        TraceContext.set(self._context)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        previous, self._previous = self._previous, None
        var = _trace_var
        if isinstance(var, ContextVar):
            var.set(previous)
        elif previous is None:
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
    is valid; the previous context comes back after the task. With only
    spakky-tracing's ``W3CTracePropagator``, ``w3c_fast_path`` reads the
    header in one parse (guarded, and compared with this path in tests).
    """

    _composite: CompositeTracePropagator
    _fields: frozenset[str]
    _w3c_only: bool

    def __init__(self, propagators: list[ITracePropagator] | None = None) -> None:
        self._composite = CompositeTracePropagator(propagators or ())
        self._fields = frozenset(self._composite.fields())
        self._w3c_only = uses_w3c_fast_path(self._composite.propagators)

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
        return TraceScope(self.context_for(carrier) if carrier else new_root())

    def context_for(self, carrier: Mapping[str, str]) -> TraceContext:
        """Return the context a task receiving ``carrier`` runs in.

        A child of the carried context, or a new root when there is none.
        """
        if not carrier:
            return new_root()
        if self._w3c_only:
            return child_of(carrier.get(TRACEPARENT_HEADER))
        parent = self._composite.extract(carrier)
        return new_root() if parent is None else parent.child()


TRACING_COMPONENTS: tuple[type, ...] = (TraceHeaderPropagator,)
"""The pods a transport plugin adds for trace propagation."""
