"""The adapter inside the core's dispatch and invocation pipelines (in memory)."""

import asyncio
from collections.abc import Callable, Iterator
from typing import Any, cast

import pytest
from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext
from spakky.task import TaskHandler
from spakky.tracing import TraceContext, W3CTracePropagator

from spakky.dispatch.core import TaskDispatcher
from spakky.dispatch.core.adapter import (
    HeaderPropagation,
    ITaskSender,
    TaskBinding,
    TaskInvoker,
    TaskRegistry,
)
from spakky.dispatch.core.testing import InMemoryTaskResult, InMemoryTaskSender
from spakky.dispatch.tracing import TraceHeaderPropagator, TraceScope

from .tracing_handlers import AuthLikePropagator, TracedHandler, in_memory_sender

TASKS = ("observe", "observe_async", "leak", "leak_async", "fail", "fan_out")

type AppFactory = Callable[..., SpakkyApplication]


@pytest.fixture
def build() -> Iterator[AppFactory]:
    """Build a started application from the core, the adapter and test pods."""
    started: list[SpakkyApplication] = []

    def factory(*extra: object) -> SpakkyApplication:
        app = SpakkyApplication(ApplicationContext())
        for pod in (
            TaskRegistry,
            HeaderPropagation,
            TaskDispatcher,
            TaskInvoker,
            TraceHeaderPropagator,
            AuthLikePropagator,
            in_memory_sender,
            TracedHandler,
            *extra,
        ):
            app.add(pod)  # type: ignore[arg-type]
        app.start()
        started.append(app)
        registry = app.container.get(TaskRegistry)
        for name in TASKS:
            registry.add(TaskBinding.of(TaskHandler.get(TracedHandler), name))
        return app

    yield factory
    for app in started:
        app.container.get(TaskInvoker).runner.close()
        app.stop()


def _sender(app: SpakkyApplication) -> InMemoryTaskSender:
    return cast(InMemoryTaskSender, app.container.get(ITaskSender))


def _send(app: SpakkyApplication, name: str) -> InMemoryTaskResult:
    handler = app.container.get(TracedHandler)
    dispatcher = app.container.get(TaskDispatcher)
    return cast(InMemoryTaskResult, dispatcher.send(getattr(handler, name)))


def _run(app: SpakkyApplication) -> None:
    _sender(app).run_pending(app.container.get(TaskInvoker).invoke_message)


def _value(result: InMemoryTaskResult) -> tuple[Any, ...]:
    return cast(tuple[Any, ...], result.get())


def test_pipeline_container_wiring_expect_trace_after_auth(build: AppFactory) -> None:
    """The container's propagators are composed; auth (100) runs before trace."""
    app = build(W3CTracePropagator)
    propagation = app.container.get(HeaderPropagation)
    kinds = [type(propagator) for propagator in propagation.propagators]
    assert kinds == [AuthLikePropagator, TraceHeaderPropagator]
    tracing = app.container.get(TraceHeaderPropagator)
    assert [type(p) for p in tracing.composite.propagators] == [W3CTracePropagator]
    assert propagation.fields == frozenset({"x-auth", "traceparent"})


@pytest.mark.parametrize("name", ["observe", "observe_async"])
def test_pipeline_caller_context_expect_task_in_child_span(
    build: AppFactory, name: str
) -> None:
    """Sync and async tasks run in a child span of the dispatching caller."""
    app = build(W3CTracePropagator)
    caller = TraceContext.new_root()
    with TraceScope(caller):
        result = _send(app, name)
        _run(app)
        assert TraceContext.get() is caller
    message = result.message
    assert message.headers["traceparent"] == (
        f"00-{caller.trace_id}-{caller.span_id}-01"
    )
    trace_id, span_id, parent_span_id, flags = _value(result)
    assert trace_id == caller.trace_id
    assert parent_span_id == caller.span_id
    assert span_id != caller.span_id
    assert flags == caller.trace_flags


def test_pipeline_no_caller_context_expect_no_header_and_root(
    build: AppFactory,
) -> None:
    """Dispatching outside any trace sends no header; the task starts a root."""
    app = build(W3CTracePropagator)
    result = _send(app, "observe")
    _run(app)
    assert "traceparent" not in result.message.headers
    trace_id, _, parent_span_id, _ = _value(result)
    assert trace_id
    assert parent_span_id is None


def test_pipeline_no_trace_propagator_expect_no_header_and_root(
    build: AppFactory,
) -> None:
    """Without an ``ITracePropagator`` dispatch works and sends no trace header."""
    app = build()
    caller = TraceContext.new_root()
    with TraceScope(caller):
        result = _send(app, "observe")
        _run(app)
    assert dict(result.message.headers) == {"x-auth": "signed"}
    trace_id, _, parent_span_id, _ = _value(result)
    assert trace_id != caller.trace_id
    assert parent_span_id is None


def test_pipeline_worker_side_send_expect_same_trace_continues(
    build: AppFactory,
) -> None:
    """A task sending another task through the broker continues the trace."""
    app = build(W3CTracePropagator)
    caller = TraceContext.new_root()
    with TraceScope(caller):
        first = _send(app, "fan_out")
    _run(app)
    second = _sender(app).results[1]
    first_trace, first_span, first_parent, _ = _value(first)
    second_trace, second_span, second_parent, _ = _value(second)
    assert first_trace == second_trace == caller.trace_id
    assert first_parent == caller.span_id
    assert second.message.headers["traceparent"] == f"00-{first_trace}-{first_span}-01"
    assert second_parent == first_span
    assert second_span not in (first_span, caller.span_id)


@pytest.mark.parametrize(
    ("spoiler", "probe"),
    [
        ("leak", "observe"),
        ("fail", "observe"),
        ("leak_async", "observe_async"),
        ("fail", "observe_async"),
    ],
)
def test_pipeline_next_task_in_same_thread_expect_no_carry_over(
    build: AppFactory, spoiler: str, probe: str
) -> None:
    """Nothing of one task's trace reaches the next task or the worker thread."""
    app = build(W3CTracePropagator)
    caller = TraceContext.new_root()
    with TraceScope(caller):
        spoiled = _send(app, spoiler)
    probed = _send(app, probe)
    _run(app)
    assert spoiled.ready
    assert TraceContext.get() is None
    trace_id, _, parent_span_id, _ = _value(probed)
    assert parent_span_id is None
    assert trace_id != caller.trace_id
    if spoiled.error is None:
        assert trace_id != _value(spoiled)[0]


def test_pipeline_task_raises_expect_error_and_context_cleared(
    build: AppFactory,
) -> None:
    """A failing task's error reaches its handle; the context is cleared."""
    app = build(W3CTracePropagator)
    caller = TraceContext.new_root()
    with TraceScope(caller):
        result = _send(app, "fail")
    _run(app)
    assert isinstance(result.error, ValueError)
    assert caller.trace_id in str(result.error)
    assert TraceContext.get() is None


def test_pipeline_auth_propagator_outermost_expect_no_trace_on_enter(
    build: AppFactory,
) -> None:
    """On the worker the auth propagator is entered before the trace is set."""
    app = build(W3CTracePropagator)
    with TraceScope(TraceContext.new_root()):
        _send(app, "observe")
    _run(app)
    assert app.container.get(AuthLikePropagator).seen_on_enter == [None]


def test_pipeline_invoke_async_expect_child_span(build: AppFactory) -> None:
    """An async-native transport entry point gives the same child span."""
    app = build(W3CTracePropagator)
    invoker = app.container.get(TaskInvoker)
    caller = TraceContext.new_root()
    headers = {"traceparent": caller.to_traceparent()}
    name = TaskBinding.of(TaskHandler.get(TracedHandler), "observe_async").name

    async def scenario() -> object:
        return await invoker.invoke_async(name, headers=headers)

    value = cast(tuple[Any, ...], asyncio.run(scenario()))
    assert value[0] == caller.trace_id
    assert value[2] == caller.span_id
