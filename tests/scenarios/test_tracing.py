"""Scenarios: the caller's trace continues on the worker, and across nested sends.

What the caller puts on the broker is read off a queue no worker consumes;
headers of other producers (malformed, truncated, of another format) are sent
with the transport's own client (Celery's ``send_task``, taskiq's kicker).
"""

import time
from collections.abc import Callable
from typing import Any

import pytest
from spakky.core.application.application import SpakkyApplication
from spakky.tracing import TraceContext

from spakky.dispatch.tracing import TraceScope
from tests.scenarios.apps.b3 import B3_HEADER
from tests.scenarios.apps.handlers import RECORDS_VARIABLE, TraceProbe
from tests.scenarios.checks import (
    TIMEOUT,
    Seen,
    assert_child,
    assert_nothing_carried_over,
    assert_root,
    run_async,
)
from tests.scenarios.conftest import Stack
from tests.scenarios.wire import send_foreign

pytestmark = pytest.mark.broker

TRACE_HEADERS = ("traceparent", B3_HEADER)
OBSERVE = f"{TraceProbe.__module__}.{TraceProbe.__qualname__}.observe"


def _span(seen: Seen) -> TraceContext:
    """The span ``seen`` ran in, as a parent of what it sent."""
    return TraceContext(
        trace_id=seen["trace_id"],
        span_id=seen["span_id"],
        trace_flags=seen["trace_flags"],
    )


def _recorded(stack: Stack, task_id: str) -> Seen:
    """What the task ``task_id`` recorded, waiting for it to run."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        for record in stack.read(RECORDS_VARIABLE):
            if record.get("task_id") == task_id:
                return record
        time.sleep(0.1)
    raise AssertionError(f"task {task_id} recorded nothing:\n{stack.worker.log}")


def _sent_with(
    stack: Stack, app: SpakkyApplication, headers: dict[str, object]
) -> Seen:
    """``TraceProbe.observe`` sent by another producer with exactly ``headers``."""
    handle = send_foreign(stack.transport, app, OBSERVE, headers)
    seen: Seen = handle.get(timeout=TIMEOUT)
    return seen


def _b3(context: TraceContext) -> str:
    return f"{context.trace_id}-{context.span_id}-{context.trace_flags}"


def test_scenario_trace_continuity_expect_child_spans_on_the_worker(
    stack: Stack,
) -> None:
    """Sync and async tasks run in a child span of the caller's span.

    A task that sends another task from inside the worker passes its own span
    on (sync, and a blocking send from an async task); a call made outside any
    trace starts a new root on the worker.
    """
    probe: Any = stack.app.container.get(TraceProbe)  # @task calls give handles
    caller = TraceContext.new_root()

    with TraceScope(caller):
        sync_handle = probe.observe()
        fan_out_handle = probe.fan_out()
    untraced = probe.observe().get(timeout=TIMEOUT)
    sync_seen = sync_handle.get(timeout=TIMEOUT)
    fan_out = fan_out_handle.get(timeout=TIMEOUT)
    async_seen = run_async(probe.observe_async, caller)
    fan_out_async = run_async(probe.fan_out_async, caller)
    nested = _recorded(stack, fan_out["sent_task_id"])
    nested_async = _recorded(stack, fan_out_async["sent_task_id"])

    for seen in (sync_seen, async_seen, fan_out, fan_out_async):
        assert_child(seen, caller)
    assert_child(nested, _span(fan_out))
    assert_child(nested_async, _span(fan_out_async))
    assert_root(untraced, caller.trace_id)


def test_scenario_trace_headers_on_the_wire_expect_traceparent_only_when_traced(
    stack: Stack,
) -> None:
    """A traced call carries W3C ``traceparent`` (and ``b3`` when registered).

    An untraced call carries no trace header, nor does a traced call from an
    application with no ``ITracePropagator``; dispatch works all the same.
    """
    caller = TraceContext.new_root()
    expected = {
        "app": {"traceparent": caller.to_traceparent()},
        "b3": {"traceparent": caller.to_traceparent(), B3_HEADER: _b3(caller)},
        "untraced": {},
    }
    for variant, headers in expected.items():
        with stack.quiet_caller(variant) as (app, take):
            probe: Any = app.container.get(TraceProbe)
            with TraceScope(caller):
                traced = probe.observe()
            untraced = probe.observe()
            sent = [message.headers for message in take()]
        assert isinstance(traced.task_id, str)
        assert isinstance(untraced.task_id, str)
        assert len(sent) == 2, (variant, sent)
        trace_headers = [
            {name: value for name, value in each.items() if name in TRACE_HEADERS}
            for each in sent
        ]
        assert trace_headers == [headers, {}], variant


def test_scenario_trace_headers_of_other_producers_expect_child_or_new_root(
    stack: Stack,
) -> None:
    """A good ``traceparent`` continues; a missing or bad one starts a new root.

    Malformed, truncated, wrong-version, upper-case, all-zero and non-string
    values each give a root of its own.
    """
    caller = TraceContext.new_root()
    parent = caller.to_traceparent()
    bad: list[object] = [
        "garbage",
        parent[:40],
        parent[:-1],
        "ff" + parent[2:],
        "01" + parent[2:],
        parent + "-extra",
        parent.upper(),
        f"00-{'0' * 32}-{caller.span_id}-01",
        f"00-{caller.trace_id}-{'0' * 16}-01",
        12345,
    ]
    no_header = _sent_with(stack, stack.app, {})
    bad_seen = [_sent_with(stack, stack.app, {"traceparent": value}) for value in bad]
    good = _sent_with(stack, stack.app, {"traceparent": parent})

    assert_child(good, caller)
    roots = [no_header, *bad_seen]
    for seen in roots:
        assert_root(seen, caller.trace_id)
    assert len({seen["trace_id"] for seen in roots}) == len(roots)


def test_scenario_trace_consecutive_tasks_expect_nothing_carried_over(
    stack: Stack,
) -> None:
    """After a task, on success or exception, its trace is gone for the next one.

    One worker process runs every task in turn; tasks that replace the context
    or raise are followed by untraced tasks that must start fresh roots, for
    sync and async tasks. Async tasks share the worker's one loop thread; sync
    tasks share one thread where the transport runs them so (Celery's solo
    pool), not where it runs them in a thread pool (taskiq).
    """
    assert_nothing_carried_over(
        stack.app,
        sync_tasks_share_a_thread=stack.transport.sync_tasks_share_a_thread,
    )


def test_scenario_trace_several_propagators_expect_composed_in_order(
    stack: Stack, variant: Callable[[str], Stack]
) -> None:
    """W3C and B3 together: both headers go out; the first in order is read.

    The B3 propagator has ``@Order(10)``; W3C has none, so B3 runs first.
    Each propagator reads only its own header, so a bad ``traceparent`` does
    not hide a good ``b3`` and the other way round.
    """
    b3_stack = variant("b3")
    probe: Any = b3_stack.app.container.get(TraceProbe)
    caller = TraceContext.new_root()
    other = TraceContext.new_root()
    b3 = _b3(caller)
    with TraceScope(caller):
        dispatched = probe.observe().get(timeout=TIMEOUT)
    app = b3_stack.app
    only_b3 = _sent_with(stack, app, {B3_HEADER: b3})
    bad_w3c = _sent_with(stack, app, {B3_HEADER: b3, "traceparent": "ff-broken"})
    bad_b3 = _sent_with(
        stack, app, {B3_HEADER: "nonsense", "traceparent": caller.to_traceparent()}
    )
    both = _sent_with(
        stack, app, {B3_HEADER: b3, "traceparent": other.to_traceparent()}
    )

    for seen in (dispatched, only_b3, bad_w3c, bad_b3, both):
        assert_child(seen, caller)


def test_scenario_trace_without_trace_propagator_expect_new_root_each_task(
    stack: Stack, variant: Callable[[str], Stack]
) -> None:
    """No ``ITracePropagator`` registered: tasks run, each in a fresh root trace.

    (That such a caller sends no trace header is read off the broker in
    ``test_scenario_trace_headers_on_the_wire_...``.)
    """
    untraced = variant("untraced")
    probe: Any = untraced.app.container.get(TraceProbe)
    caller = TraceContext.new_root()
    with TraceScope(caller):
        first = probe.observe().get(timeout=TIMEOUT)
        second = probe.observe().get(timeout=TIMEOUT)
    for seen in (first, second):
        assert_root(seen, caller.trace_id)
    assert first["trace_id"] != second["trace_id"]
