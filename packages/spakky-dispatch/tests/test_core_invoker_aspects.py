"""``TaskInvoker`` and aspects: only the dispatch aspects are ever skipped.

Inside a worker-side task the core's dispatch aspects just call the method, so
when they are a method's only aspects the invoker calls the handler's own
method. Any other aspect on the method still runs, through the proxy.
"""

import asyncio
from collections.abc import Callable
from inspect import iscoroutinefunction
from typing import Any, override

import pytest
from spakky.core.aop.aspect import Aspect, AsyncAspect
from spakky.core.aop.interfaces.aspect import IAspect, IAsyncAspect
from spakky.core.aop.pointcut import Around
from spakky.core.common.types import AsyncFunc, Func
from spakky.core.pod.annotations.pod import Pod
from spakky.task import TaskHandler, TaskRoute, task

from spakky.dispatch.core import TaskExecution, current_task_execution
from spakky.dispatch.core.adapter import task_name_for
from spakky.dispatch.core.aspects import AsyncTaskDispatchAspect, TaskDispatchAspect
from spakky.dispatch.core.testing import InMemoryTaskResult

from .dispatch_core_support import Harness, running_app

DISPATCH_ASPECTS = (TaskDispatchAspect, AsyncTaskDispatchAspect)


def _is_sync_task(method: Func) -> bool:
    return TaskRoute.exists(method) and not iscoroutinefunction(method)


def _is_async_task(method: Func) -> bool:
    return TaskRoute.exists(method) and iscoroutinefunction(method)


@Aspect()
class AuditAspect(IAspect):
    """A user's aspect on every sync task: records each call it sees."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    @Around(_is_sync_task)
    @override
    def around(self, joinpoint: Func, *args: Any, **kwargs: Any) -> Any:
        self.seen.append(joinpoint.__name__)
        return joinpoint(*args, **kwargs)


@AsyncAspect()
class AsyncAuditAspect(IAsyncAspect):
    """A user's aspect on every async task: records each call it sees."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    @Around(_is_async_task)
    @override
    async def around_async(
        self, joinpoint: AsyncFunc, *args: Any, **kwargs: Any
    ) -> Any:
        self.seen.append(joinpoint.__name__)
        return await joinpoint(*args, **kwargs)


@TaskHandler()
class Tasks:
    """A singleton handler with a sync and an async task."""

    def __init__(self) -> None:
        self.ran: list[str] = []

    @task
    def add(self, a: int, b: int = 0) -> int:
        """Sum, and record the run."""
        self.ran.append("add")
        return a + b

    @task
    async def add_async(self, a: int, b: int = 0) -> int:
        """Async twin of ``add``."""
        await asyncio.sleep(0)
        self.ran.append("add_async")
        return a + b


@TaskHandler(scope=Pod.Scope.PROTOTYPE)
class Fresh:
    """A prototype handler: a new instance per resolution."""

    @task
    def whoami(self) -> object:
        """This instance."""
        return self


def _routed(app: Harness, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every call the dispatch aspects route through the dispatcher."""
    routed: list[str] = []
    dispatcher = app.dispatcher
    original: Callable[[Callable[..., object]], object] = dispatcher.route

    def route(method: Callable[..., object]) -> object:
        routed.append(getattr(method, "__name__", "?"))
        return original(method)

    monkeypatch.setattr(dispatcher, "route", route)
    return routed


def test_invoker_only_dispatch_aspects_expect_method_called_directly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With just the dispatch aspects, tasks run without passing through them."""
    with running_app(Tasks, *DISPATCH_ASPECTS) as app:
        routed = _routed(app, monkeypatch)
        handler = app.get(Tasks)
        sent = handler.add(1, 2)  # outside a worker: the aspect sends it
        results = [
            app.invoker.invoke(task_name_for(Tasks, "add"), (1,), {"b": 2})
            for _ in range(2)
        ]
        results.append(app.invoker.invoke(task_name_for(Tasks, "add_async"), (3, 4)))
    assert isinstance(sent, InMemoryTaskResult)
    assert routed == ["add"]
    assert results == [3, 3, 7]
    assert handler.ran == ["add", "add", "add_async"]


def test_invoker_direct_call_expect_marker_visible_inside() -> None:
    """Called directly, the method still runs inside its own marked scope."""
    seen: list[TaskExecution | None] = []

    @TaskHandler()
    class Observing:
        def __init__(self, tasks: Tasks) -> None:
            self.tasks = tasks

        @task
        def look(self) -> None:
            seen.append(current_task_execution(context))

    with running_app(Tasks, Observing, *DISPATCH_ASPECTS) as app:
        context = app.context
        app.invoker.invoke(task_name_for(Observing, "look"), task_id="m-1")
        assert current_task_execution(context) is None
    assert len(seen) == 1
    execution = seen[0]
    assert execution is not None
    assert execution.task_id == "m-1"
    assert execution.task.method_name == "look"


def test_invoker_other_aspect_on_task_expect_it_still_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A user's aspect on a task runs on the worker, around every run."""
    with running_app(Tasks, *DISPATCH_ASPECTS, AuditAspect, AsyncAuditAspect) as app:
        routed = _routed(app, monkeypatch)
        results = [
            app.invoker.invoke(task_name_for(Tasks, "add"), (1, 2)),
            app.invoker.invoke(task_name_for(Tasks, "add"), (5,)),
            app.invoker.invoke(task_name_for(Tasks, "add_async"), (3, 4)),
        ]
        audit, async_audit = app.get(AuditAspect), app.get(AsyncAuditAspect)
    assert results == [3, 5, 7]
    assert audit.seen == ["add", "add"]
    assert async_audit.seen == ["add_async"]
    assert routed == ["add", "add", "add_async"]


def test_invoker_aspect_on_sync_tasks_only_expect_async_task_direct(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The decision is per method: an aspect of sync tasks keeps only those."""
    with running_app(Tasks, *DISPATCH_ASPECTS, AuditAspect) as app:
        routed = _routed(app, monkeypatch)
        app.invoker.invoke(task_name_for(Tasks, "add"), (1, 2))
        app.invoker.invoke(task_name_for(Tasks, "add_async"), (3, 4))
        audit = app.get(AuditAspect)
    assert audit.seen == ["add"]
    assert routed == ["add"]


def test_invoker_prototype_handler_with_aspects_expect_new_instance_per_task(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A prototype handler is still built for every task when called directly."""
    with running_app(Fresh, *DISPATCH_ASPECTS) as app:
        routed = _routed(app, monkeypatch)
        first = app.invoker.invoke(task_name_for(Fresh, "whoami"))
        second = app.invoker.invoke(task_name_for(Fresh, "whoami"))
    assert isinstance(first, Fresh)
    assert isinstance(second, Fresh)
    assert first is not second
    assert routed == []
