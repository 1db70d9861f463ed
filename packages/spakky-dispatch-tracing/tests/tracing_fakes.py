"""Trace propagators used by the adapter's unit tests."""

from typing import override

from spakky.core.pod.annotations.order import Order
from spakky.tracing import ITracePropagator, TraceContext, W3CTracePropagator

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
SPAN_ID = "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE_ID}-{SPAN_ID}-01"

MALFORMED_TRACEPARENTS = [
    "",
    "garbage",
    TRACEPARENT[:-1],  # truncated
    TRACEPARENT[:30],  # truncated mid trace id
    f"ff-{TRACE_ID}-{SPAN_ID}-01",  # forbidden version
    f"01-{TRACE_ID}-{SPAN_ID}-01",  # undefined version
    f"01-{TRACE_ID}-{SPAN_ID}-01-extra",
    f"00-{TRACE_ID}-{SPAN_ID}-01-extra",  # version 00 has exactly 4 parts
    f"00-{TRACE_ID.upper()}-{SPAN_ID}-01",  # upper case
    f" {TRACEPARENT}",  # surrounding whitespace
    f"00-{'0' * 32}-{SPAN_ID}-01",  # all-zero trace id
    f"00-{TRACE_ID}-{'0' * 16}-01",  # all-zero span id
    f"00-{TRACE_ID}-{SPAN_ID}-1",
    f"00_{TRACE_ID}_{SPAN_ID}_01",
    f"00-{TRACE_ID}x-{SPAN_ID}-01",
]
"""Values ``is_valid_traceparent`` refuses."""


class B3SinglePropagator(ITracePropagator):
    """The B3 single-header format: ``b3: {trace_id}-{span_id}-{sampled}``."""

    @override
    def inject(self, carrier: dict[str, str]) -> None:
        context = TraceContext.get()
        if context is not None:
            sampled = "1" if context.trace_flags & 1 else "0"
            carrier["b3"] = f"{context.trace_id}-{context.span_id}-{sampled}"

    @override
    def extract(self, carrier: dict[str, str]) -> TraceContext | None:
        parts = carrier.get("b3", "").split("-")
        if len(parts) != 3:
            return None
        trace_id, span_id, sampled = parts
        return TraceContext(
            trace_id=trace_id, span_id=span_id, trace_flags=int(sampled == "1")
        )

    @override
    def fields(self) -> list[str]:
        return ["b3"]


@Order(0)
class FirstB3Propagator(B3SinglePropagator):
    """B3, ordered before every propagator without a lower ``@Order``."""


@Order(0)
class FirstW3CPropagator(W3CTracePropagator):
    """W3C, ordered before every propagator without a lower ``@Order``."""


class RecordingPropagator(ITracePropagator):
    """Records every carrier it sees; returns a fixed context and headers."""

    def __init__(
        self,
        fields: list[str],
        *,
        writes: dict[str, object] | None = None,
        returns: object = None,
    ) -> None:
        self._fields = fields
        self._writes = writes or {}
        self._returns = returns
        self.injected: list[dict[str, str]] = []
        self.extracted: list[dict[str, str]] = []

    @override
    def inject(self, carrier: dict[str, str]) -> None:
        self.injected.append(dict(carrier))
        carrier.update(self._writes)  # type: ignore[arg-type]

    @override
    def extract(self, carrier: dict[str, str]) -> TraceContext | None:
        self.extracted.append(dict(carrier))
        return self._returns  # type: ignore[return-value]

    @override
    def fields(self) -> list[str]:
        return self._fields


class ExplodingPropagator(ITracePropagator):
    """Breaks its contract: raises from ``inject`` and ``extract``."""

    @override
    def inject(self, carrier: dict[str, str]) -> None:
        raise RuntimeError("inject exploded")

    @override
    def extract(self, carrier: dict[str, str]) -> TraceContext | None:
        raise RuntimeError("extract exploded")

    @override
    def fields(self) -> list[str]:
        return ["x-exploding"]


@Order(1)
class OrderedOne(RecordingPropagator):
    """A recording propagator with ``@Order(1)``."""


@Order(2)
class OrderedTwo(RecordingPropagator):
    """A recording propagator with ``@Order(2)``."""


class Alpha(RecordingPropagator):
    """A recording propagator without ``@Order``, named before ``Beta``."""


class Beta(RecordingPropagator):
    """A recording propagator without ``@Order``, named after ``Alpha``."""


def ids(context: TraceContext | None) -> tuple[object, ...] | None:
    """The fields of a context, comparable by value (``TraceContext`` is not)."""
    if context is None:
        return None
    return (
        context.trace_id,
        context.span_id,
        context.parent_span_id,
        context.trace_flags,
    )
