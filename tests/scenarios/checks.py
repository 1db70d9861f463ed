"""Checks shared by the scenarios and Celery's own pool tests (``tests/e2e``)."""

import asyncio
import re
from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from typing import Any

import pytest
from spakky.core.application.application import SpakkyApplication
from spakky.tracing import TraceContext

from spakky.dispatch.tracing import TraceScope
from tests.scenarios.apps.handlers import TraceProbe

TIMEOUT = 30
_TRACE_ID = re.compile(r"[0-9a-f]{32}")
_SPAN_ID = re.compile(r"[0-9a-f]{16}")

type Seen = dict[str, Any]


def assert_child(seen: Seen, parent: TraceContext) -> None:
    """``seen`` ran in a child span of ``parent``: same trace, same flags."""
    assert seen["trace_id"] == parent.trace_id, seen
    assert seen["parent_span_id"] == parent.span_id, seen
    assert _SPAN_ID.fullmatch(seen["span_id"]), seen
    assert seen["span_id"] != parent.span_id, seen
    assert seen["trace_flags"] == parent.trace_flags, seen


def assert_root(seen: Seen, *foreign: str) -> None:
    """``seen`` ran in a new root trace, none of ``foreign``."""
    assert _TRACE_ID.fullmatch(seen["trace_id"]), seen
    assert _SPAN_ID.fullmatch(seen["span_id"]), seen
    assert seen["parent_span_id"] is None, seen
    assert seen["trace_id"] not in foreign, seen


def run_async(
    method: Callable[[], Awaitable[Any]], context: TraceContext | None
) -> Seen:
    """Dispatch an async task from async code, under ``context``, and await it."""

    async def scenario() -> Seen:
        with TraceScope(context) if context is not None else nullcontext():
            handle = await method()
        seen: Seen = await handle.get_async(timeout=TIMEOUT)
        return seen

    return asyncio.run(scenario())


def assert_nothing_carried_over(
    app: SpakkyApplication, *, sync_tasks_share_a_thread: bool
) -> None:
    """After a task, on success or exception, its trace is gone for the next one.

    Runs ``TraceProbe`` tasks in turn on the one worker process ``app`` sends
    to: tasks that replace the context or raise are followed by untraced tasks
    that must start fresh roots, for sync and async tasks. Async tasks share
    the worker's one loop thread; sync tasks share one thread when
    ``sync_tasks_share_a_thread``.
    """
    probe: Any = app.container.get(TraceProbe)  # @task calls give handles
    caller = TraceContext.new_root()

    with TraceScope(caller):
        traced = probe.observe().get(timeout=TIMEOUT)
        leaked = probe.leak().get(timeout=TIMEOUT)
    after_leak = probe.observe().get(timeout=TIMEOUT)
    with TraceScope(caller):
        failed = probe.fail()
    with pytest.raises(ValueError, match=caller.trace_id):
        failed.get(timeout=TIMEOUT)
    after_failure = probe.observe().get(timeout=TIMEOUT)
    traced_async = run_async(probe.observe_async, caller)
    leaked_async = run_async(probe.leak_async, caller)
    after_leak_async = run_async(probe.observe_async, None)
    with pytest.raises(ValueError, match=caller.trace_id):
        run_async(probe.fail_async, caller)
    after_failure_async = run_async(probe.observe_async, None)

    assert_child(traced, caller)
    assert_child(traced_async, caller)
    leaks = (leaked["trace_id"], leaked_async["trace_id"])
    assert caller.trace_id not in leaks
    for seen in (after_leak, after_failure, after_leak_async, after_failure_async):
        assert_root(seen, caller.trace_id, *leaks)
    sync_runs = [traced, leaked, after_leak, after_failure]
    async_runs = [traced_async, leaked_async, after_leak_async, after_failure_async]
    assert len({seen["pid"] for seen in sync_runs + async_runs}) == 1
    assert len({seen["thread"] for seen in async_runs}) == 1
    if sync_tasks_share_a_thread:
        assert len({seen["thread"] for seen in sync_runs}) == 1
