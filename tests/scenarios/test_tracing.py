"""Scenarios: the caller's trace continues on the worker, and across nested sends."""

import asyncio
import re
import time
from typing import Any

import pytest
from spakky.tracing import TraceContext

from spakky.dispatch.tracing import TraceScope
from tests.scenarios.apps.handlers import RECORDS_VARIABLE, TraceProbe
from tests.scenarios.conftest import Stack

pytestmark = pytest.mark.broker

TIMEOUT = 30
_SPAN_ID = re.compile(r"[0-9a-f]{16}")


def _assert_child(seen: dict[str, Any], trace_id: str, parent_span_id: str) -> None:
    assert seen["trace_id"] == trace_id, seen
    assert seen["parent_span_id"] == parent_span_id, seen
    assert _SPAN_ID.fullmatch(seen["span_id"]), seen
    assert seen["span_id"] != parent_span_id, seen


def _recorded(stack: Stack, task_id: str) -> dict[str, Any]:
    """What the task ``task_id`` recorded, waiting for it to run."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        for record in stack.read(RECORDS_VARIABLE):
            if record.get("task_id") == task_id:
                return record
        time.sleep(0.1)
    raise AssertionError(f"task {task_id} recorded nothing:\n{stack.worker.log}")


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

    async def traced_async(method: Any) -> dict[str, Any]:
        with TraceScope(caller):
            handle = await method()
        seen: dict[str, Any] = await handle.get_async(timeout=TIMEOUT)
        return seen

    with TraceScope(caller):
        sync_handle = probe.observe()
        fan_out_handle = probe.fan_out()
    untraced = probe.observe().get(timeout=TIMEOUT)
    sync_seen = sync_handle.get(timeout=TIMEOUT)
    fan_out = fan_out_handle.get(timeout=TIMEOUT)
    async_seen = asyncio.run(traced_async(probe.observe_async))
    fan_out_async = asyncio.run(traced_async(probe.fan_out_async))
    nested = _recorded(stack, fan_out["sent_task_id"])
    nested_async = _recorded(stack, fan_out_async["sent_task_id"])

    for seen in (sync_seen, async_seen, fan_out, fan_out_async):
        _assert_child(seen, caller.trace_id, caller.span_id)
    _assert_child(nested, caller.trace_id, fan_out["span_id"])
    _assert_child(nested_async, caller.trace_id, fan_out_async["span_id"])
    assert untraced["parent_span_id"] is None
    assert untraced["trace_id"] != caller.trace_id
