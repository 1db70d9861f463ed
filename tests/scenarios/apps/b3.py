"""A second trace format for the scenarios: B3 single header (``b3``).

Loaded only by the ``b3`` variant of the scenario application.
"""

from typing import override

from spakky.core.pod.annotations.order import Order
from spakky.core.pod.annotations.pod import Pod
from spakky.tracing import ITracePropagator, TraceContext

B3_HEADER = "b3"


@Order(10)
@Pod()
class B3SingleTracePropagator(ITracePropagator):
    """``b3: {trace_id}-{span_id}-{sampled}``; ordered before W3C (no ``@Order``)."""

    @override
    def inject(self, carrier: dict[str, str]) -> None:
        context = TraceContext.get()
        if context is not None:
            sampled = "1" if context.trace_flags & 1 else "0"
            carrier[B3_HEADER] = f"{context.trace_id}-{context.span_id}-{sampled}"

    @override
    def extract(self, carrier: dict[str, str]) -> TraceContext | None:
        parts = carrier.get(B3_HEADER, "").split("-")
        if len(parts) != 3:
            return None
        trace_id, span_id, sampled = parts
        return TraceContext(
            trace_id=trace_id, span_id=span_id, trace_flags=int(sampled == "1")
        )

    @override
    def fields(self) -> list[str]:
        return [B3_HEADER]
