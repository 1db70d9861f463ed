"""``TaskInvoker``: received tasks run on their handler, in a fresh context scope."""

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar, copy_context
from types import MappingProxyType
from typing import Any, ClassVar, override

import pytest
from spakky.core.pod.annotations.pod import Pod
from spakky.core.pod.interfaces.application_context import IApplicationContext
from spakky.core.pod.interfaces.aware.application_context_aware import (
    IApplicationContextAware,
)
from spakky.task import TaskHandler, task

from spakky.dispatch.core import (
    TaskExecution,
    TaskNotRegisteredError,
    current_task_execution,
)
from spakky.dispatch.core.adapter import (
    EventLoopRunner,
    HeaderPropagation,
    InvokerNotReadyError,
    TaskInvoker,
    TaskMessage,
    TaskRegistry,
    task_name_for,
)
from spakky.dispatch.core.invoker import run_in_context

from .dispatch_core_support import Harness, running_app

CALLER_KEY = "test.request_user"
"""A context-scope value the caller sets before invoking."""

INSIDE_KEY = "test.set_inside_task"
"""A context-scope value a task sets while running."""


@Pod()
class Greeter:
    """A dependency injected into the handler."""

    def greet(self, name: str) -> str:
        """Greet ``name``."""
        return f"hello {name}"


class ContextAware(IApplicationContextAware):
    """Keeps the application context so a task can look at its scope."""

    context: IApplicationContext

    @override
    def set_application_context(self, application_context: IApplicationContext) -> None:
        self.context = application_context

    def snapshot(self) -> dict[str, Any]:
        """What the task sees of the context scope, then mark the scope."""
        seen = {
            "execution": current_task_execution(self.context),
            "caller_value": self.context.get_context_value(CALLER_KEY),
        }
        self.context.set_context_value(INSIDE_KEY, "leaked?")
        return seen


@TaskHandler()
class WorkerTasks(ContextAware):
    """Sync and async tasks on a singleton handler with a dependency."""

    arrivals: ClassVar[list[str]] = []
    barrier: ClassVar[threading.Barrier] = threading.Barrier(2, timeout=10)

    def __init__(self, greeter: Greeter) -> None:
        self.greeter = greeter

    @task
    def greet(self, name: str, *, punctuation: str = "") -> str:
        """Uses the injected dependency."""
        return self.greeter.greet(name) + punctuation

    @task
    async def greet_async(self, name: str, *, punctuation: str = "") -> str:
        """Async twin of ``greet``."""
        await asyncio.sleep(0)
        return self.greeter.greet(name) + punctuation

    @task
    def observe(self) -> dict[str, Any]:
        """Report the context scope seen by a sync task."""
        return self.snapshot()

    @task
    async def observe_async(self) -> dict[str, Any]:
        """Report the context scope seen by an async task."""
        await asyncio.sleep(0)
        return self.snapshot()

    @task
    def explode(self) -> None:
        """Fail after marking the scope."""
        self.snapshot()
        raise KeyError("sync boom")

    @task
    async def explode_async(self) -> None:
        """Fail after marking the scope."""
        self.snapshot()
        raise KeyError("async boom")

    @task
    async def running_loop(self) -> asyncio.AbstractEventLoop:
        """The loop the task runs on."""
        return asyncio.get_running_loop()

    @task
    def rendezvous(self) -> str | None:
        """Wait until two tasks run at once in two threads, then report own id."""
        WorkerTasks.barrier.wait()
        execution = current_task_execution(self.context)
        return None if execution is None else execution.task_id

    @task
    async def rendezvous_async(self, tag: str) -> str | None:
        """Wait until two tasks run at once on the loop, then report own task id."""
        WorkerTasks.arrivals.append(tag)
        for _ in range(5000):
            if len(WorkerTasks.arrivals) >= 2:
                break
            await asyncio.sleep(0.001)
        execution = current_task_execution(self.context)
        return None if execution is None else execution.task_id


@TaskHandler(scope=Pod.Scope.CONTEXT)
class ScopedTasks(ContextAware):
    """A context-scoped handler: one instance per task scope."""

    @task
    def whoami(self) -> tuple[object, bool]:
        """This instance, and whether the scope resolves to this instance."""
        return self, self.context.get(ScopedTasks) is self


@TaskHandler(scope=Pod.Scope.PROTOTYPE)
class PrototypeTasks:
    """A prototype handler: a new instance per resolution."""

    @task
    def whoami(self) -> object:
        """This instance."""
        return self


def _name(method: str, handler: type[object] = WorkerTasks) -> str:
    return task_name_for(handler, method)


def _counting_get(
    app: Harness, monkeypatch: pytest.MonkeyPatch, handler: type[object]
) -> list[str]:
    """Count how often the invoker resolves ``handler`` from the container."""
    resolved: list[str] = []
    original: Callable[..., object] = app.context.get

    def get(type_: type[object], name: str | None = None) -> object:
        if type_ is handler and name is not None:
            resolved.append(name)
        return original(type_) if name is None else original(type_, name)

    monkeypatch.setattr(app.context, "get", get)
    return resolved


def test_invoker_sync_task_expect_handler_with_injected_dependency() -> None:
    """A sync task runs on the container's handler, with its dependency injected."""
    with running_app(Greeter, WorkerTasks) as app:
        result = app.invoker.invoke(_name("greet"), ("ann",), {"punctuation": "!"})
    assert result == "hello ann!"


def test_invoker_async_task_expect_result_from_loop() -> None:
    """An async task is awaited to completion and its value returned."""
    with running_app(Greeter, WorkerTasks) as app:
        result = app.invoker.invoke(
            _name("greet_async"), ("bo",), MappingProxyType({"punctuation": "?"})
        )
    assert result == "hello bo?"


def test_invoker_unknown_task_expect_not_registered_error() -> None:
    """A name the application does not know is refused, naming it."""
    with running_app(Greeter, WorkerTasks) as app:
        with pytest.raises(TaskNotRegisteredError) as caught:
            app.invoker.invoke("nope.Tasks.run")
        with pytest.raises(TaskNotRegisteredError):
            asyncio.run(app.invoker.invoke_async("nope.Tasks.run"))
    assert caught.value.detail == "nope.Tasks.run"


@pytest.mark.parametrize("method", ["observe", "observe_async"])
def test_invoker_marker_expect_visible_inside_with_name_and_id(method: str) -> None:
    """Inside the task the worker marker names the task and the message id."""
    with running_app(Greeter, WorkerTasks) as app:
        seen = app.invoker.invoke(_name(method), task_id="id-42")
        binding = app.registry.get(_name(method))
    assert isinstance(seen, dict)
    assert seen["execution"] == TaskExecution(task=binding, task_id="id-42")


@pytest.mark.parametrize("method", ["observe", "observe_async"])
def test_invoker_scope_expect_fresh_and_nothing_leaks_to_caller(method: str) -> None:
    """The task starts from an empty scope; its scope never reaches the caller."""
    with running_app(Greeter, WorkerTasks) as app:
        app.context.set_context_value(CALLER_KEY, "alice")
        seen = app.invoker.invoke(_name(method))
        after = (
            current_task_execution(app.context),
            app.context.get_context_value(CALLER_KEY),
            app.context.get_context_value(INSIDE_KEY),
        )
    assert isinstance(seen, dict)
    assert seen["caller_value"] is None
    assert seen["execution"] is not None
    assert after == (None, "alice", None)


@pytest.mark.parametrize(
    ("method", "message"), [("explode", "sync boom"), ("explode_async", "async boom")]
)
def test_invoker_task_raises_expect_error_and_caller_scope_intact(
    method: str, message: str
) -> None:
    """The task's own exception propagates; the caller's scope is untouched."""
    with running_app(Greeter, WorkerTasks) as app:
        app.context.set_context_value(CALLER_KEY, "alice")
        with pytest.raises(KeyError, match=message):
            app.invoker.invoke(_name(method))
        assert current_task_execution(app.context) is None
        assert app.context.get_context_value(CALLER_KEY) == "alice"
        assert app.context.get_context_value(INSIDE_KEY) is None


def test_invoker_async_tasks_expect_one_long_lived_loop() -> None:
    """Every async task runs on the same loop: the runner's, not a fresh one."""
    with running_app(Greeter, WorkerTasks) as app:
        first = app.invoker.invoke(_name("running_loop"))
        second = app.invoker.invoke(_name("running_loop"))
        runner_loop = app.invoker.runner.loop
        assert isinstance(app.invoker.runner, EventLoopRunner)
        assert first is second
        assert first is runner_loop
        assert isinstance(first, asyncio.AbstractEventLoop)
        assert first.is_running()


def _invoke_concurrently(
    app: Harness, method: str, *, tag_argument: bool
) -> list[object]:
    """Invoke ``method`` from two threads at once, with task ids first / second."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [
            pool.submit(
                app.invoker.invoke,
                _name(method),
                (tag,) if tag_argument else (),
                None,
                None,
                tag,
            )
            for tag in ("first", "second")
        ]
        return [future.result() for future in futures]


def test_invoker_concurrent_async_tasks_expect_each_own_marker() -> None:
    """Two async tasks interleaving on the one loop each see their own task id."""
    WorkerTasks.arrivals.clear()
    with running_app(Greeter, WorkerTasks) as app:
        results = _invoke_concurrently(app, "rendezvous_async", tag_argument=True)
    assert sorted(WorkerTasks.arrivals) == ["first", "second"]
    assert results == ["first", "second"]


def test_invoker_concurrent_sync_tasks_expect_each_own_marker() -> None:
    """Two sync tasks running at once in two threads each see their own task id."""
    WorkerTasks.barrier = threading.Barrier(2, timeout=10)
    with running_app(Greeter, WorkerTasks) as app:
        results = _invoke_concurrently(app, "rendezvous", tag_argument=False)
    assert results == ["first", "second"]


def test_invoker_invoke_async_expect_tasks_run_from_async_code() -> None:
    """``invoke_async`` runs sync and async tasks from async code, scoped."""
    with running_app(Greeter, WorkerTasks) as app:

        async def call() -> tuple[object, ...]:
            app.context.set_context_value(CALLER_KEY, "alice")
            sync_result = await app.invoker.invoke_async(_name("greet"), ("ann",))
            async_result = await app.invoker.invoke_async(
                _name("greet_async"), ("bo",), {"punctuation": "!"}
            )
            seen_async = await app.invoker.invoke_async(
                _name("observe_async"), task_id="a-1"
            )
            seen_sync = await app.invoker.invoke_async(
                _name("observe"), headers={"x": "1"}, task_id="s-1"
            )
            loop = await app.invoker.invoke_async(_name("running_loop"))
            after = (
                current_task_execution(app.context),
                app.context.get_context_value(CALLER_KEY),
                app.context.get_context_value(INSIDE_KEY),
            )
            return (
                sync_result,
                async_result,
                seen_async,
                seen_sync,
                loop is asyncio.get_running_loop(),
                after,
            )

        sync_result, async_result, seen_async, seen_sync, on_caller_loop, after = (
            asyncio.run(call())
        )
    assert (sync_result, async_result) == ("hello ann", "hello bo!")
    assert isinstance(seen_async, dict)
    assert isinstance(seen_sync, dict)
    assert seen_async["execution"].task_id == "a-1"
    assert seen_sync["execution"].task_id == "s-1"
    assert seen_async["caller_value"] is None
    assert seen_sync["caller_value"] is None
    assert on_caller_loop is True
    assert after == (None, "alice", None)


def test_invoker_invoke_message_expect_args_kwargs_and_id_used() -> None:
    """A whole task message runs as a worker would run it."""
    with running_app(Greeter, WorkerTasks) as app:
        greeting = app.invoker.invoke_message(
            TaskMessage(
                task_name=_name("greet"), args=("cy",), kwargs={"punctuation": "."}
            )
        )
        seen = app.invoker.invoke_message(
            TaskMessage(task_name=_name("observe"), task_id="m-7")
        )
    assert greeting == "hello cy."
    assert isinstance(seen, dict)
    assert seen["execution"].task_id == "m-7"


def test_invoker_without_application_context_expect_not_ready_error() -> None:
    """A task arriving before the application started is refused clearly."""
    with running_app(Greeter, WorkerTasks) as app:
        registry = app.registry
    invoker = TaskInvoker(registry, HeaderPropagation())
    try:
        with pytest.raises(InvokerNotReadyError) as caught:
            invoker.invoke(_name("greet"), ("ann",))
        with pytest.raises(InvokerNotReadyError):
            invoker.invoke(_name("greet_async"), ("ann",))
    finally:
        invoker.runner.close()
    assert "start the application first" in str(caught.value)


def test_invoker_empty_registry_expect_not_registered_not_not_ready() -> None:
    """The task name is checked before the context is needed."""
    invoker = TaskInvoker(TaskRegistry(), HeaderPropagation())
    with pytest.raises(TaskNotRegisteredError):
        invoker.invoke("x.Y.z")


def test_invoker_singleton_handler_expect_resolved_once_and_reused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A singleton handler's method is resolved once and cached."""
    with running_app(Greeter, WorkerTasks) as app:
        resolved = _counting_get(app, monkeypatch, WorkerTasks)
        results = [app.invoker.invoke(_name("greet"), (n,)) for n in "abc"]
        results.append(app.invoker.invoke(_name("greet_async"), ("d",)))
    assert results == ["hello a", "hello b", "hello c", "hello d"]
    assert resolved == ["worker_tasks", "worker_tasks"]


def test_invoker_context_scoped_handler_expect_new_instance_per_task(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A context-scoped handler is resolved inside each task's own scope."""
    with running_app(ScopedTasks) as app:
        resolved = _counting_get(app, monkeypatch, ScopedTasks)
        first = app.invoker.invoke(_name("whoami", ScopedTasks))
        second = app.invoker.invoke(_name("whoami", ScopedTasks))
    assert isinstance(first, tuple)
    assert isinstance(second, tuple)
    assert first[0] is not second[0]
    assert first[1] is True
    assert second[1] is True
    assert resolved == ["scoped_tasks", "scoped_tasks"]


def test_invoker_prototype_handler_expect_new_instance_per_task() -> None:
    """A prototype handler is built afresh for every task."""
    with running_app(PrototypeTasks) as app:
        first = app.invoker.invoke(_name("whoami", PrototypeTasks))
        second = app.invoker.invoke(_name("whoami", PrototypeTasks))
    assert isinstance(first, PrototypeTasks)
    assert isinstance(second, PrototypeTasks)
    assert first is not second


_STEP: "ContextVar[str]" = ContextVar("test_step", default="outside")


def test_run_in_context_expect_steps_in_context_futures_and_errors_passed() -> None:
    """Each step runs in the given context; awaited futures, their errors and a
    cancellation of the awaiting task reach the coroutine as they would inline."""

    async def inner(gate: "asyncio.Future[str]", seen: list[str]) -> str:
        _STEP.set("inside")
        await asyncio.sleep(0)  # a bare yield to the loop
        seen.append(_STEP.get())
        try:
            return await gate
        except ValueError as error:
            seen.append(f"raised {error}")
            await asyncio.sleep(3600)  # cancelled here
            raise
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    async def scenario() -> list[str]:
        loop = asyncio.get_running_loop()
        seen: list[str] = []
        gate: asyncio.Future[str] = loop.create_future()
        loop.call_later(0.01, gate.set_result, "done")
        assert await run_in_context(copy_context(), inner(gate, seen)) == "done"
        assert _STEP.get() == "outside"
        failing: asyncio.Future[str] = loop.create_future()
        loop.call_later(0.01, failing.set_exception, ValueError("boom"))
        awaiting = asyncio.ensure_future(
            run_in_context(copy_context(), inner(failing, seen))
        )
        await asyncio.sleep(0.05)
        awaiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await awaiting
        return seen

    assert asyncio.run(scenario()) == ["inside", "inside", "raised boom"]
