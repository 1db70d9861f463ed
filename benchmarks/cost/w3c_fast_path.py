"""What the W3C fast path saves per received task.

``TraceHeaderPropagator`` with spakky-tracing's ``W3CTracePropagator`` only,
restoring a task's trace context from a valid ``traceparent`` (the worker's
per-task work: the context, entered and left), with the fast path and with it
turned off (the composite path: strict check, ``W3CTracePropagator.extract``,
``is_valid_trace_context``, ``child()``).
"""

from typing import Any

from spakky.tracing import TraceContext, W3CTracePropagator

from benchmarks.cost.core_app import cost_row
from benchmarks.harness.core_api import TaskBinding, TaskCall
from benchmarks.harness.rows import Row
from benchmarks.harness.timing import compare, sampler
from spakky.dispatch.tracing import TraceHeaderPropagator


class _Handler:
    def run(self) -> None: ...


CALL = TaskCall(
    task=TaskBinding(
        name="bench._Handler.run",
        handler_type=_Handler,
        method_name="run",
        pod_name="handler",
        is_async=False,
    ),
    task_id="bench",
)


def _restore(propagator: TraceHeaderPropagator, carrier: dict[str, str]) -> None:
    with propagator.restore(carrier, CALL):
        pass


def w3c_fast_path_rows(number: int, repeat: int) -> list[Row]:
    """``restore`` of a valid ``traceparent``, fast path against composite path."""
    fast = TraceHeaderPropagator([W3CTracePropagator()])
    public: Any = TraceHeaderPropagator([W3CTracePropagator()])
    public._w3c_only = False  # the composite path
    carrier = {"traceparent": TraceContext.new_root().to_traceparent()}
    if fast.context_for(carrier).trace_id != public.context_for(carrier).trace_id:
        raise RuntimeError("the fast path and the composite path disagree")
    stats = compare(
        {
            "fast": sampler(lambda: _restore(fast, carrier)),
            "public": sampler(lambda: _restore(public, carrier)),
        },
        number=number,
        repeat=repeat,
    )
    return [
        cost_row(
            "tracing: restore a traceparent, W3C fast path",
            stats,
            "fast",
            "public",
            "raw: the composite (public) path",
        )
    ]
