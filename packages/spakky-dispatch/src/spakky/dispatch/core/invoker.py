"""The worker-side invocation pipeline: a received message runs its task."""

from collections.abc import (
    Awaitable,
    Callable,
    Coroutine,
    Generator,
    Iterator,
    Mapping,
)
from contextlib import contextmanager
from contextvars import Context, copy_context
from types import coroutine
from typing import Any, cast

from spakky.core.pod.annotations.pod import Pod
from spakky.core.pod.interfaces.application_context import IApplicationContext
from spakky.core.pod.interfaces.aware.application_context_aware import (
    IApplicationContextAware,
)

from spakky.dispatch.core.aspects import AsyncTaskDispatchAspect, TaskDispatchAspect
from spakky.dispatch.core.binding import TaskBinding
from spakky.dispatch.core.context import TASK_CONTEXT_KEY, TaskExecution, mark_running
from spakky.dispatch.core.error import AbstractSpakkyDispatchError, RetryableTaskError
from spakky.dispatch.core.loop import EventLoopRunner
from spakky.dispatch.core.message import TaskMessage
from spakky.dispatch.core.propagation import HeaderPropagation
from spakky.dispatch.core.proxy_bypass import own_method, passes_through
from spakky.dispatch.core.registry import TaskRegistry

_NO_KWARGS: Mapping[str, object] = {}
_DISPATCH_ASPECTS: frozenset[type] = frozenset(
    {TaskDispatchAspect, AsyncTaskDispatchAspect}
)
"""The aspects that only pass a call through inside a worker-side task."""


class InvokerNotReadyError(AbstractSpakkyDispatchError):
    """A task arrived before the application context was attached."""

    message = "TaskInvoker has no application context; start the application first"


@Pod()
class TaskInvoker(IApplicationContextAware):
    """Runs a received task on its handler, inside a fresh context scope.

    Per task: a copied ``contextvars`` context (nothing leaks into the caller's),
    a cleared application context scope, the worker-context marker, then every
    header propagator's context; the handler is resolved from the container and
    the method called through its aspects. Async tasks run on one long-lived
    event loop per process.

    What does not change between tasks is worked out once per task: the bound
    method of a singleton handler is kept, and when the dispatch aspects are
    the only aspects of the method (they let every call through inside a
    worker-side task) the handler's own method is called, skipping the proxy
    (``proxy_bypass``, guarded by a check of spakky-core's proxy). Handlers of
    other scopes are still resolved for every task.
    """

    _registry: TaskRegistry
    _propagation: HeaderPropagation
    _runner: EventLoopRunner
    _targets: dict[str, "_Target"]
    _application_context: IApplicationContext | None

    def __init__(self, registry: TaskRegistry, propagation: HeaderPropagation) -> None:
        self._registry = registry
        self._propagation = propagation
        self._runner = EventLoopRunner()
        self._targets = {}
        self._application_context = None

    def set_application_context(self, application_context: IApplicationContext) -> None:
        """Attach the container that handlers are resolved from."""
        self._application_context = application_context

    @property
    def runner(self) -> EventLoopRunner:
        """The event loop runner used for async tasks."""
        return self._runner

    def invoke(
        self,
        task_name: str,
        args: tuple[object, ...] = (),
        kwargs: Mapping[str, object] | None = None,
        headers: Mapping[str, object] | None = None,
        task_id: str | None = None,
        retries: int = 0,
    ) -> object:
        """Run one received task to completion and return the method's value.

        Args:
            task_name: The registered task.
            args: Positional arguments of the call.
            kwargs: Keyword arguments of the call.
            headers: Received headers (only propagators' own ones are read).
            task_id: The message's id, shown by ``current_task_execution``.
            retries: How many times this message was retried already.

        Raises:
            TaskNotRegisteredError: ``task_name`` is not a task of this application.
            RetryableTaskError: The method raised an error its retry policy
                covers; the transport should retry after ``delay``.
        """
        target = self._targets.get(task_name) or self._target(task_name)
        if kwargs is None:
            kwargs = _NO_KWARGS
        if headers is None:
            headers = _NO_KWARGS
        task = target.task
        if task.retry is None:  # no policy to apply: no guard around the run
            return self._run(target, args, kwargs, headers, task_id)
        with _retry_policy(task, retries):
            return self._run(target, args, kwargs, headers, task_id)

    def _run(
        self,
        target: "_Target",
        args: tuple[object, ...],
        kwargs: Mapping[str, object],
        headers: Mapping[str, object],
        task_id: str | None,
    ) -> object:
        if target.task.is_async:
            return self._runner.run(
                self._call_async(target, args, kwargs, headers, task_id)
            )
        return copy_context().run(self._call, target, args, kwargs, headers, task_id)

    def invoke_message(self, message: TaskMessage) -> object:
        """Run a task message in this process, as a worker would."""
        return self.invoke(
            message.task_name,
            message.args,
            message.kwargs,
            message.headers,
            message.task_id,
        )

    async def invoke_async(
        self,
        task_name: str,
        args: tuple[object, ...] = (),
        kwargs: Mapping[str, object] | None = None,
        headers: Mapping[str, object] | None = None,
        task_id: str | None = None,
        retries: int = 0,
    ) -> object:
        """Run one received task from async code (an async-native transport)."""
        target = self._targets.get(task_name) or self._target(task_name)
        kwargs = _NO_KWARGS if kwargs is None else kwargs
        headers = _NO_KWARGS if headers is None else headers
        task = target.task
        if task.retry is None:  # no policy to apply: no guard around the run
            return await self._run_here(target, args, kwargs, headers, task_id)
        with _retry_policy(task, retries):
            return await self._run_here(target, args, kwargs, headers, task_id)

    def _run_here(
        self,
        target: "_Target",
        args: tuple[object, ...],
        kwargs: Mapping[str, object],
        headers: Mapping[str, object],
        task_id: str | None,
    ) -> Awaitable[object]:
        """What ``invoke_async`` awaits: the task in a context of its own."""
        if target.task.is_async:
            # In a contextvars context of its own, on the caller's task: no
            # second asyncio task, so no loop turn to hand back the value.
            return run_in_context(
                copy_context(),
                self._call_async(target, args, kwargs, headers, task_id),
            )
        return _done(
            copy_context().run(self._call, target, args, kwargs, headers, task_id)
        )

    def _call(
        self,
        target: "_Target",
        args: tuple[object, ...],
        kwargs: Mapping[str, object],
        headers: Mapping[str, object],
        task_id: str | None,
    ) -> object:
        task = target.task
        context = self._application_context
        if context is None:
            raise InvokerNotReadyError()
        context.clear_context()  # as ``_enter``, inline: this runs for every task
        execution = TaskExecution(task=task, task_id=task_id)
        context.set_context_value(TASK_CONTEXT_KEY, execution)
        mark_running(execution)
        with self._propagation.restore(headers, task, task_id, args, kwargs):
            method = target.method or self._resolve(target, context)
            return method(*args, **kwargs)

    async def _call_async(
        self,
        target: "_Target",
        args: tuple[object, ...],
        kwargs: Mapping[str, object],
        headers: Mapping[str, object],
        task_id: str | None,
    ) -> object:
        task = target.task
        context = self._enter(task, task_id)
        with self._propagation.restore(headers, task, task_id, args, kwargs):
            method = target.method or self._resolve(target, context)
            coroutine = cast(Coroutine[Any, Any, object], method(*args, **kwargs))
            return await coroutine

    def _enter(self, task: TaskBinding, task_id: str | None) -> IApplicationContext:
        """Open a fresh context scope marked as executing ``task``.

        Callers run in a ``contextvars`` context of their own (a copy, or an
        asyncio task's), so the scope goes away with it when the task ends.
        """
        context = self._application_context
        if context is None:
            raise InvokerNotReadyError()
        context.clear_context()
        execution = TaskExecution(task=task, task_id=task_id)
        context.set_context_value(TASK_CONTEXT_KEY, execution)
        mark_running(execution)
        return context

    def _target(self, task_name: str) -> "_Target":
        """The lookup plan of ``task_name``, made at its first run.

        Raises:
            TaskNotRegisteredError: No such task in this application.
        """
        target = self._targets[task_name] = _Target(self._registry.get(task_name))
        return target

    def _resolve(
        self, target: "_Target", context: IApplicationContext
    ) -> Callable[..., Any]:
        """The method to call for one run; kept when the handler is a singleton."""
        task = target.task
        handler = context.get(task.handler_type, task.pod_name)
        method: Any = getattr(handler, task.method_name)
        if target.direct is None:
            target.direct = passes_through(context, handler, method, _DISPATCH_ASPECTS)
        # When direct, the proxy's wrapper gives way to the handler's own method.
        resolved: Callable[..., Any] = (
            own_method(method) or method if target.direct else method
        )
        if task.singleton:
            target.method = resolved
        return resolved


class _Target:
    """How the invoker reaches a task: its binding and, once known, its method."""

    __slots__ = ("direct", "method", "task")

    task: TaskBinding
    direct: bool | None
    method: Callable[..., Any] | None

    def __init__(self, task: TaskBinding) -> None:
        self.task = task
        self.direct = None
        self.method = None


@contextmanager
def _retry_policy(task: TaskBinding, retries: int) -> Iterator[None]:
    """Turn an error the task's retry policy covers into a ``RetryableTaskError``."""
    try:
        yield
    except Exception as error:
        retry = _retry_for(task, error, retries)
        if retry is None:
            raise
        raise retry from error


def _retry_for(
    task: TaskBinding, error: Exception, retries: int
) -> RetryableTaskError | None:
    """The ``RetryableTaskError`` the task's retry policy asks for, if any."""
    policy = task.retry
    if (
        policy is None
        or isinstance(error, RetryableTaskError)
        or not isinstance(error, policy.retry_on)
    ):
        return None
    return RetryableTaskError(
        f"{task.name} raised {type(error).__name__}: {error}",
        delay=round(policy.delay(retries), 3),  # milliseconds read well in logs
        max_retries=policy.max_retries,
        final_error=error,
    )


@coroutine
def run_in_context(
    context: Context, task: Coroutine[Any, Any, object]
) -> Generator[Any, Any, object]:
    """Await ``task`` with every step of it run in ``context``.

    What the coroutine sets in context variables stays in ``context``, as in an
    asyncio task of its own, but it runs on the awaiting task: what it awaits
    is handed to that task's event loop unchanged (futures, bare yields), and
    what the awaiting task is sent or thrown (a result, a cancellation) goes
    on to the coroutine. ``context`` must not be entered elsewhere meanwhile.
    """
    send, throw = task.send, task.throw
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            if error is None:
                step = context.run(send, value)
            else:
                step = context.run(throw, error)
        except StopIteration as stop:
            return stop.value
        try:
            value, error = (yield step), None
        except BaseException as thrown:  # cancellation, GeneratorExit: passed on
            value, error = None, thrown


@coroutine
def _done(value: object) -> Generator[Any, Any, object]:
    """An awaitable of ``value``, which is there already."""
    return value
    yield  # a generator: awaiting it gives ``value`` at once
