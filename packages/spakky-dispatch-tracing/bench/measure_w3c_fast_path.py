"""What the W3C fast path saves per received task, in-process.

Run from the repository root::

    .venv/bin/python packages/spakky-dispatch-tracing/bench/measure_w3c_fast_path.py

``TraceHeaderPropagator`` with spakky-tracing's ``W3CTracePropagator`` only,
restoring a task's trace context from a valid ``traceparent`` (the worker's
per-task work: the context, entered and left), with the fast path and with it
turned off (the composite path: strict check, ``W3CTracePropagator.extract``,
``is_valid_trace_context``, ``child()``), interleaved round by round. Figures
are CPU time of this process per task: median and best round.
"""

import statistics
import time

from spakky.tracing import TraceContext, W3CTracePropagator

from spakky.dispatch.core.adapter import TaskBinding, TaskCall
from spakky.dispatch.tracing import TraceHeaderPropagator

ROUNDS = 21
CALLS = 50_000


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


def main() -> None:
    """Print µs of CPU per restored context with and without the fast path."""
    fast = TraceHeaderPropagator([W3CTracePropagator()])
    public = TraceHeaderPropagator([W3CTracePropagator()])
    public._w3c_only = False  # the composite path, as for any other propagators
    carrier = {"traceparent": TraceContext.new_root().to_traceparent()}
    variants = {"fast path": fast, "public path": public}
    samples: dict[str, list[float]] = {label: [] for label in variants}
    for round_ in range(ROUNDS):
        order = list(variants.items())
        for label, propagator in order if round_ % 2 else reversed(order):
            started = time.process_time()
            for _ in range(CALLS):
                with propagator.restore(carrier, CALL):
                    pass
            samples[label].append((time.process_time() - started) / CALLS * 1e6)
    base = statistics.median(samples["fast path"])
    print("| restore(traceparent) | µs/task (median) | best | vs fast path |")
    print("|---|---|---|---|")
    for label, values in samples.items():
        median = statistics.median(values)
        print(
            f"| {label} | {median:.2f} | {min(values):.2f} | "
            f"{median - base:+.2f} µs ({median / base:.2f}x) |"
        )


if __name__ == "__main__":
    main()
