"""End to end: the caller's trace reaches a real worker process (F8).

Each test starts real ``celery`` processes on Redis and on RabbitMQ; the tasks
report ``TraceContext.get()`` as seen inside the worker through the result
backend.
"""

import asyncio
import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from spakky.core.application.application import SpakkyApplication
from spakky.tracing import TraceContext

from spakky.dispatch.tracing import TraceScope
from tests.conftest import WorkerFactory
from tests.e2e.apps.tracing import build_app
from tests.e2e.apps.tracing_handlers import BEAT_SINK_VARIABLE, TraceProbeHandler

pytestmark = pytest.mark.broker

TARGET = "tests.e2e.apps.tracing:celery"
PREFIX = "tests.e2e.apps.tracing_handlers.TraceProbeHandler"
TIMEOUT = 30

type Seen = dict[str, Any]
type AppFactory = Callable[[str], SpakkyApplication]

_TRACE_ID = re.compile(r"[0-9a-f]{32}")
_SPAN_ID = re.compile(r"[0-9a-f]{16}")


@pytest.fixture
def build(celery_env: dict[str, str]) -> Iterator[AppFactory]:
    """Build applications of ``tests.e2e.apps.tracing``; stopped after the test."""
    started: list[SpakkyApplication] = []

    def factory(variant: str) -> SpakkyApplication:
        started.append(build_app(variant))
        return started[-1]

    yield factory
    for app in started:
        app.stop()


def _node() -> tuple[str, str]:
    """A worker node name of its own, so concurrent RabbitMQ workers never clash.

    Every worker is otherwise ``celery@<host>``, and RabbitMQ refuses a second
    exclusive remote-control queue of that name while another one is alive.
    """
    return "--hostname", f"trace-{uuid.uuid4().hex[:8]}@%h"


def _assert_child(seen: Seen, parent: TraceContext) -> None:
    assert seen["trace_id"] == parent.trace_id, seen
    assert seen["parent_span_id"] == parent.span_id, seen
    assert _SPAN_ID.fullmatch(seen["span_id"]), seen
    assert seen["span_id"] != parent.span_id, seen


def _assert_root(seen: Seen, *foreign: str) -> None:
    assert _TRACE_ID.fullmatch(seen["trace_id"]), seen
    assert _SPAN_ID.fullmatch(seen["span_id"]), seen
    assert seen["parent_span_id"] is None, seen
    assert seen["trace_id"] not in foreign, seen


def _raw(app: SpakkyApplication, name: str, headers: dict[str, object]) -> Seen:
    """Send a task with exactly ``headers``, as a foreign producer would."""
    celery = app.container.get(Celery)
    result = celery.send_task(f"{PREFIX}.{name}", headers=headers or None)
    seen: Seen = result.get(timeout=TIMEOUT)
    return seen


def _run_async(
    method: Callable[[], Awaitable[Any]], context: TraceContext | None
) -> Seen:
    """Dispatch an async task from async code, under ``context``, and await it."""

    async def scenario() -> Seen:
        with TraceScope(context) if context is not None else nullcontext():
            handle = await method()
        seen: Seen = await handle.get_async(timeout=TIMEOUT)
        return seen

    return asyncio.run(scenario())


def _stored(app: SpakkyApplication, task_id: str) -> Seen:
    seen: Seen = app.container.get(Celery).AsyncResult(task_id).get(timeout=TIMEOUT)
    return seen


def test_trace_solo_worker_expect_child_spans_and_roots_for_bad_headers(
    build: AppFactory, worker: WorkerFactory
) -> None:
    """Caller's trace continues on the worker; a bad or no header starts a root.

    Covers sync and async tasks, sync and async tasks that send another task
    through the broker from inside the worker, and malformed, truncated and
    wrong-version ``traceparent`` values sent by a foreign producer.
    """
    app = build("traced")
    handler: Any = app.container.get(TraceProbeHandler)  # @task calls return handles
    caller = TraceContext.new_root()

    bad_headers: list[object] = [
        "garbage",
        caller.to_traceparent()[:40],
        caller.to_traceparent()[:-1],
        "ff" + caller.to_traceparent()[2:],
        "01" + caller.to_traceparent()[2:],
        caller.to_traceparent() + "-extra",
        caller.to_traceparent().upper(),
        f"00-{'0' * 32}-{caller.span_id}-01",
        f"00-{caller.trace_id}-{'0' * 16}-01",
        12345,
    ]
    with worker(TARGET, "-P", "solo", *_node()):
        with TraceScope(caller):
            sync_handle = handler.observe()
            fan_out_handle = handler.fan_out()
        sync_seen = sync_handle.get(timeout=TIMEOUT)
        async_seen = _run_async(handler.observe_async, caller)
        fan_out_seen = fan_out_handle.get(timeout=TIMEOUT)
        nested_seen = _stored(app, fan_out_seen["sent_task_id"])
        fan_out_async_seen = _run_async(handler.fan_out_async, caller)
        nested_async_seen = _stored(app, fan_out_async_seen["sent_task_id"])
        untraced_seen = handler.observe().get(timeout=TIMEOUT)
        no_header_seen = _raw(app, "observe", {})
        bad_seen = [
            _raw(app, "observe", {"traceparent": value}) for value in bad_headers
        ]
        good_seen = _raw(app, "observe", {"traceparent": caller.to_traceparent()})

    _assert_child(async_seen, caller)
    _assert_child(fan_out_async_seen, caller)
    _assert_child(
        nested_async_seen,
        TraceContext(trace_id=caller.trace_id, span_id=fan_out_async_seen["span_id"]),
    )
    for seen in (sync_seen, fan_out_seen, good_seen):
        _assert_child(seen, caller)
        assert seen["received"] == {"traceparent": caller.to_traceparent()}
    assert nested_seen["trace_id"] == caller.trace_id
    assert nested_seen["parent_span_id"] == fan_out_seen["span_id"]
    assert nested_seen["received"] == {
        "traceparent": f"00-{caller.trace_id}-{fan_out_seen['span_id']}-01"
    }
    assert untraced_seen["received"] == {}
    assert no_header_seen["received"] == {}
    roots = [untraced_seen, no_header_seen, *bad_seen]
    for seen in roots:
        _assert_root(seen, caller.trace_id)
    assert len({seen["trace_id"] for seen in roots}) == len(roots)


@pytest.mark.parametrize("pool", ["solo", "threads", "prefork"])
def test_trace_consecutive_tasks_in_one_worker_expect_nothing_carried_over(
    build: AppFactory, worker: WorkerFactory, pool: str
) -> None:
    """After a task, on success or exception, its trace is gone for the next one.

    One worker process (one thread or child) runs every task in turn; tasks
    that replace the context or raise are followed by header-less tasks that
    must start fresh roots, for sync and async tasks.
    """
    app = build("traced")
    handler: Any = app.container.get(TraceProbeHandler)  # @task calls return handles
    caller = TraceContext.new_root()

    with worker(TARGET, "-P", pool, "-c", "1", *_node()):
        with TraceScope(caller):
            traced = handler.observe().get(timeout=TIMEOUT)
            leaked = handler.leak().get(timeout=TIMEOUT)
        after_leak = handler.observe().get(timeout=TIMEOUT)
        with TraceScope(caller):
            failed = handler.fail()
            with pytest.raises(ValueError, match=caller.trace_id):
                failed.get(timeout=TIMEOUT)
        after_failure = handler.observe().get(timeout=TIMEOUT)
        traced_async = _run_async(handler.observe_async, caller)
        leaked_async = _run_async(handler.leak_async, caller)
        after_leak_async = _run_async(handler.observe_async, None)
        with pytest.raises(ValueError, match=caller.trace_id):
            _run_async(handler.fail_async, caller)
        after_failure_async = _run_async(handler.observe_async, None)

    _assert_child(traced, caller)
    _assert_child(traced_async, caller)
    leaks = (leaked["trace_id"], leaked_async["trace_id"])
    assert caller.trace_id not in leaks
    after = [after_leak, after_failure, after_leak_async, after_failure_async]
    for seen in after:
        _assert_root(seen, caller.trace_id, *leaks)
    assert after_leak["received"] == after_failure["received"] == {}
    sync_runs = [traced, leaked, after_leak, after_failure]
    async_runs = [traced_async, leaked_async, after_leak_async, after_failure_async]
    assert len({seen["pid"] for seen in sync_runs + async_runs}) == 1
    assert len({seen["thread"] for seen in sync_runs}) == 1
    assert len({seen["thread"] for seen in async_runs}) == 1


def test_trace_several_propagators_expect_composed_in_order(
    build: AppFactory, worker: WorkerFactory
) -> None:
    """W3C and B3 together: both headers go out; the first in order is read.

    The B3 propagator has ``@Order(10)``; W3C has none, so B3 runs first.
    Each propagator reads only its own header, so a bad ``traceparent`` does
    not hide a good ``b3`` and the other way round.
    """
    app = build("b3")
    handler: Any = app.container.get(TraceProbeHandler)  # @task calls return handles
    caller = TraceContext.new_root()
    other = TraceContext.new_root()
    b3 = f"{caller.trace_id}-{caller.span_id}-1"
    with worker("tests.e2e.apps.tracing:celery_b3", "-P", "solo", *_node()):
        with TraceScope(caller):
            dispatched = handler.observe().get(timeout=TIMEOUT)
        only_b3 = _raw(app, "observe", {"b3": b3})
        bad_w3c = _raw(app, "observe", {"b3": b3, "traceparent": "ff-broken"})
        bad_b3 = _raw(
            app, "observe", {"b3": "nonsense", "traceparent": caller.to_traceparent()}
        )
        both = _raw(app, "observe", {"b3": b3, "traceparent": other.to_traceparent()})

    assert dispatched["received"] == {
        "traceparent": caller.to_traceparent(),
        "b3": b3,
    }
    for seen in (dispatched, only_b3, bad_w3c, bad_b3, both):
        _assert_child(seen, caller)


def test_trace_without_trace_propagator_expect_dispatch_works_without_header(
    build: AppFactory, worker: WorkerFactory
) -> None:
    """No ``ITracePropagator`` registered: tasks run, no trace header is sent.

    The worker still runs each task in a fresh root trace.
    """
    app = build("untraced")
    handler: Any = app.container.get(TraceProbeHandler)  # @task calls return handles
    caller = TraceContext.new_root()
    with (
        worker("tests.e2e.apps.tracing:celery_untraced", "-P", "solo", *_node()),
        TraceScope(caller),
    ):
        first = handler.observe().get(timeout=TIMEOUT)
        second = handler.observe().get(timeout=TIMEOUT)
    for seen in (first, second):
        assert seen["received"] == {}
        _assert_root(seen, caller.trace_id)
    assert first["trace_id"] != second["trace_id"]


def test_trace_beat_triggered_runs_expect_new_root_each_time(
    worker: WorkerFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tasks sent by ``celery beat`` carry no trace and each starts a root."""
    sink = tmp_path / "beat-traces.jsonl"
    monkeypatch.setenv(BEAT_SINK_VARIABLE, str(sink))
    env = {BEAT_SINK_VARIABLE: str(sink)}

    def runs() -> list[Seen]:
        if not sink.exists():
            return []
        return [json.loads(line) for line in sink.read_text().splitlines()]

    with (
        worker(TARGET, "-P", "solo", *_node(), env=env) as running,
        worker(
            TARGET,
            "--schedule",
            str(tmp_path / "beat-schedule"),
            "--max-interval",
            "1",
            command="beat",
            env=env,
            ready="beat: Starting",
        ) as beat,
    ):
        deadline = time.monotonic() + 40
        while len(runs()) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        logs = beat.log + running.log
    seen = runs()
    assert len(seen) >= 2, logs
    for run in seen:
        _assert_root(run)
        assert run["received"] == {}
    assert len({run["trace_id"] for run in seen}) == len(seen)
