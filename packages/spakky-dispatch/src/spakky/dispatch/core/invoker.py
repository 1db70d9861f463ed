"""The worker-side invocation pipeline: a received message runs its task."""

import asyncio
from collections.abc import Callable, Coroutine, Iterator, Mapping
from contextlib import contextmanager
from contextvars import copy_context
from typing import Any, cast

from spakky.core.pod.annotations.pod import Pod
from spakky.core.pod.interfaces.application_context import IApplicationContext
from spakky.core.pod.interfaces.aware.application_context_aware import (
    IApplicationContextAware,
)

from spakky.dispatch.core.binding import TaskBinding
from spakky.dispatch.core.context import TASK_CONTEXT_KEY, TaskExecution
from spakky.dispatch.core.error import AbstractSpakkyDispatchError, RetryableTaskError
from spakky.dispatch.core.loop import EventLoopRunner
from spakky.dispatch.core.message import TaskMessage
from spakky.dispatch.core.propagation import HeaderPropagation
from spakky.dispatch.core.registry import TaskRegistry

_NO_KWARGS: Mapping[str, object] = {}


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
    """

    _registry: TaskRegistry
    _propagation: HeaderPropagation
    _runner: EventLoopRunner
    _methods: dict[str, Callable[..., Any]]
    _application_context: IApplicationContext | None

    def __init__(self, registry: TaskRegistry, propagation: HeaderPropagation) -> None:
        self._registry = registry
        self._propagation = propagation
        self._runner = EventLoopRunner()
        self._methods = {}
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
        task = self._registry.get(task_name)
        kwargs = _NO_KWARGS if kwargs is None else kwargs
        headers = _NO_KWARGS if headers is None else headers
        if task.retry is None:
            return self._run(task, args, kwargs, headers, task_id)
        with _retry_policy(task, retries):
            return self._run(task, args, kwargs, headers, task_id)

    def _run(
        self,
        task: TaskBinding,
        args: tuple[object, ...],
        kwargs: Mapping[str, object],
        headers: Mapping[str, object],
        task_id: str | None,
    ) -> object:
        if task.is_async:
            return self._runner.run(
                self._call_async(task, args, kwargs, headers, task_id)
            )
        return copy_context().run(self._call, task, args, kwargs, headers, task_id)

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
        task = self._registry.get(task_name)
        kwargs = _NO_KWARGS if kwargs is None else kwargs
        headers = _NO_KWARGS if headers is None else headers
        with _retry_policy(task, retries):
            if task.is_async:
                return await asyncio.ensure_future(
                    self._call_async(task, args, kwargs, headers, task_id)
                )
            return copy_context().run(self._call, task, args, kwargs, headers, task_id)

    def _call(
        self,
        task: TaskBinding,
        args: tuple[object, ...],
        kwargs: Mapping[str, object],
        headers: Mapping[str, object],
        task_id: str | None,
    ) -> object:
        context = self._enter(task, task_id)
        try:
            with self._propagation.restore(headers, task):
                return self._method(task)(*args, **kwargs)
        finally:
            context.clear_context()

    async def _call_async(
        self,
        task: TaskBinding,
        args: tuple[object, ...],
        kwargs: Mapping[str, object],
        headers: Mapping[str, object],
        task_id: str | None,
    ) -> object:
        context = self._enter(task, task_id)
        try:
            with self._propagation.restore(headers, task):
                coroutine = cast(
                    Coroutine[Any, Any, object], self._method(task)(*args, **kwargs)
                )
                return await coroutine
        finally:
            context.clear_context()

    def _enter(self, task: TaskBinding, task_id: str | None) -> IApplicationContext:
        """Open a fresh context scope marked as executing ``task``."""
        context = self._context()
        context.clear_context()
        context.set_context_value(
            TASK_CONTEXT_KEY, TaskExecution(task=task, task_id=task_id)
        )
        return context

    def _method(self, task: TaskBinding) -> Callable[..., Any]:
        cached = self._methods.get(task.name)
        if cached is not None:
            return cached
        handler = self._context().get(task.handler_type, task.pod_name)
        method: Callable[..., Any] = getattr(handler, task.method_name)
        if task.singleton:
            self._methods[task.name] = method
        return method

    def _context(self) -> IApplicationContext:
        if self._application_context is None:
            raise InvokerNotReadyError()
        return self._application_context


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
        delay=policy.delay(retries),
        max_retries=policy.max_retries,
        final_error=error,
    )
