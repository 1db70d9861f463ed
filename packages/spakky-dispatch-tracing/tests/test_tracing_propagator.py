"""``TraceHeaderPropagator`` and ``TraceScope`` on their own."""

from typing import override

import pytest
from spakky.core.pod.annotations.order import Order
from spakky.core.pod.annotations.pod import Pod
from spakky.tracing import TraceContext, W3CTracePropagator

from spakky.dispatch.core.adapter import TaskBinding, TaskCall
from spakky.dispatch.tracing import (
    TRACE_PROPAGATION_ORDER,
    TraceHeaderPropagator,
    TraceScope,
    is_valid_trace_context,
)
from spakky.dispatch.tracing import ids as ids_module

from .tracing_fakes import (
    MALFORMED_TRACEPARENTS,
    SPAN_ID,
    TRACE_ID,
    TRACEPARENT,
    B3SinglePropagator,
    RecordingPropagator,
    ids,
)


class _Handler:
    def run(self) -> None: ...


TASK = TaskBinding(
    name="tests._Handler.run",
    handler_type=_Handler,
    method_name="run",
    pod_name="handler",
    is_async=False,
)
CALL = TaskCall(task=TASK, task_id="id-1")


def test_trace_header_propagator_is_ordered_pod_expect_order_200() -> None:
    """It is a pod ordered after the auth propagator (100)."""
    assert Pod.exists(TraceHeaderPropagator)
    assert Order.get(TraceHeaderPropagator).order == TRACE_PROPAGATION_ORDER == 200


def test_trace_header_propagator_fields_expect_union_of_propagators() -> None:
    """Its headers are those of every trace propagator, and only those."""
    propagator = TraceHeaderPropagator([W3CTracePropagator(), B3SinglePropagator()])
    assert propagator.fields() == frozenset({"traceparent", "b3"})
    assert len(propagator.composite.propagators) == 2


def test_trace_header_propagator_no_trace_propagator_expect_no_header() -> None:
    """Without an ``ITracePropagator`` nothing is written, even with a context."""
    propagator = TraceHeaderPropagator()
    carrier: dict[str, str] = {}
    TraceContext.set(TraceContext.new_root())
    try:
        propagator.inject(carrier, CALL)
    finally:
        TraceContext.clear()
    assert propagator.fields() == frozenset()
    assert carrier == {}


def test_trace_header_propagator_inject_current_context_expect_traceparent() -> None:
    """The current context goes out as the caller's ``traceparent``."""
    propagator = TraceHeaderPropagator([W3CTracePropagator()])
    caller = TraceContext.new_root().child()
    carrier: dict[str, str] = {}
    with TraceScope(caller):
        propagator.inject(carrier, CALL)
    assert carrier == {"traceparent": f"00-{caller.trace_id}-{caller.span_id}-01"}


def test_trace_header_propagator_inject_no_context_expect_no_header() -> None:
    """No current context: no header is written."""
    propagator = TraceHeaderPropagator([W3CTracePropagator()])
    carrier: dict[str, str] = {}
    propagator.inject(carrier, CALL)
    assert carrier == {}


def test_trace_header_propagator_restore_carried_context_expect_child() -> None:
    """The task runs in a child span of the carried context."""
    propagator = TraceHeaderPropagator([W3CTracePropagator()])
    with propagator.restore({"traceparent": TRACEPARENT}, CALL):
        inside = TraceContext.get()
    assert inside is not None
    assert inside.trace_id == TRACE_ID
    assert inside.parent_span_id == SPAN_ID
    assert inside.span_id not in (SPAN_ID, "0" * 16)
    assert inside.trace_flags == 1
    assert TraceContext.get() is None


@pytest.mark.parametrize(
    "carrier",
    [
        {},
        {"traceparent": "garbage"},
        {"traceparent": TRACEPARENT[:-3]},
        {"traceparent": f"ff-{TRACE_ID}-{SPAN_ID}-01"},
        {"traceparent": f"01-{TRACE_ID}-{SPAN_ID}-01"},
    ],
)
def test_trace_header_propagator_restore_no_valid_header_expect_root(
    carrier: dict[str, str],
) -> None:
    """Missing or malformed headers give a new root trace, never an error."""
    propagator = TraceHeaderPropagator([W3CTracePropagator()])
    with propagator.restore(carrier, CALL):
        inside = TraceContext.get()
    assert inside is not None
    assert inside.trace_id != TRACE_ID
    assert inside.parent_span_id is None
    assert TraceContext.get() is None


def test_trace_header_propagator_restore_roots_differ_expect_fresh_each_time() -> None:
    """Each header-less task starts its own trace."""
    propagator = TraceHeaderPropagator([W3CTracePropagator()])
    first = propagator.context_for({})
    second = propagator.context_for({})
    assert first.trace_id != second.trace_id


def test_trace_header_propagator_restore_skips_extract_on_empty_expect_root() -> None:
    """No header: propagators are not asked at all."""
    recorder = RecordingPropagator(["traceparent"])
    propagator = TraceHeaderPropagator([recorder])
    assert propagator.context_for({}).parent_span_id is None
    assert recorder.extracted == []


def test_trace_scope_exception_expect_previous_context_back() -> None:
    """The previous context comes back when the block raises."""
    outer = TraceContext.new_root()
    inner = outer.child()
    seen: list[TraceContext | None] = []

    def fail_inside() -> None:
        with TraceScope(inner):
            seen.append(TraceContext.get())
            raise ValueError("boom")

    with TraceScope(outer):
        with pytest.raises(ValueError, match="boom"):
            fail_inside()
        assert TraceContext.get() is outer
    assert seen == [inner]
    assert TraceContext.get() is None


def test_trace_scope_enter_expect_none_and_context_current() -> None:
    """Entering yields nothing and makes the scope's context current."""
    scope = TraceScope(TraceContext.new_root())
    with scope as entered:
        assert entered is None
        assert TraceContext.get() is scope.context


def test_trace_scope_block_replaces_context_expect_previous_back() -> None:
    """Whatever the block sets, the context before the scope is restored."""
    scope = TraceScope(TraceContext.new_root())
    with scope:
        TraceContext.set(TraceContext.new_root())
    assert TraceContext.get() is None
    assert ids(scope.context) is not None


class _OtherW3C(W3CTracePropagator):
    """A subclass: the propagator's own ``extract`` must be honoured."""

    def __init__(self) -> None:
        self.extracted: list[dict[str, str]] = []

    @override
    def extract(self, carrier: dict[str, str]) -> TraceContext | None:
        self.extracted.append(dict(carrier))
        return super().extract(carrier)


@pytest.mark.parametrize(
    "traceparent",
    [
        TRACEPARENT,
        f"00-{TRACE_ID}-{SPAN_ID}-00",
        f"00-{TRACE_ID}-{SPAN_ID}-ff",
        *MALFORMED_TRACEPARENTS,
    ],
)
def test_trace_header_propagator_w3c_only_expect_same_as_composite(
    traceparent: str,
) -> None:
    """With only spakky-tracing's W3C propagator, the carried header gives the
    context the composite gives (same trace, parent and flags; fresh span)."""
    w3c_only = TraceHeaderPropagator([W3CTracePropagator()])
    composite = TraceHeaderPropagator([W3CTracePropagator(), B3SinglePropagator()])
    carrier = {"traceparent": traceparent}
    fast, reference = w3c_only.context_for(carrier), composite.context_for(carrier)
    assert fast.parent_span_id == reference.parent_span_id
    assert fast.trace_flags == reference.trace_flags
    if reference.parent_span_id is None:  # both new roots
        assert fast.trace_id not in (TRACE_ID, reference.trace_id)
    else:
        assert fast.trace_id == reference.trace_id == TRACE_ID
    assert fast.span_id not in (SPAN_ID, reference.span_id)
    assert is_valid_trace_context(fast)


def test_trace_header_propagator_w3c_subclass_expect_its_extract_used() -> None:
    """A W3C subclass is not assumed to parse as spakky-tracing's does."""
    subclass = _OtherW3C()
    propagator = TraceHeaderPropagator([subclass])
    context = propagator.context_for({"traceparent": TRACEPARENT})
    assert subclass.extracted == [{"traceparent": TRACEPARENT}]
    assert (context.trace_id, context.parent_span_id) == (TRACE_ID, SPAN_ID)


def test_trace_header_propagator_w3c_only_missing_header_expect_root() -> None:
    """A carrier without a ``traceparent`` starts a new root trace."""
    propagator = TraceHeaderPropagator([W3CTracePropagator()])
    context = propagator.context_for({"tracestate": "vendor=1"})
    assert context.parent_span_id is None
    assert is_valid_trace_context(context)


def test_trace_header_propagator_new_ids_expect_never_all_zeros(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An all-zero id drawn from the generator is drawn again (W3C forbids it)."""
    # root: all zeros, then a zero span id, then ok; child span: zero, then ok
    draws = iter([0, 1 << 64, (1 << 64) | 2, 0, 5])

    def getrandbits(bits: int) -> int:
        return next(draws)

    monkeypatch.setattr(ids_module, "getrandbits", getrandbits)
    propagator = TraceHeaderPropagator([W3CTracePropagator()])
    root = propagator.context_for({})
    child = propagator.context_for({"traceparent": TRACEPARENT})
    assert (root.trace_id, root.span_id) == (f"{1:032x}", f"{2:016x}")
    assert child.span_id == f"{5:016x}"
