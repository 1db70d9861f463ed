"""The dispatch pipeline: a ``@task`` call becomes a task message on a broker."""

from collections.abc import Callable, Coroutine, Iterator, Mapping
from contextlib import contextmanager
from inspect import unwrap
from os import urandom
from typing import Any, overload

from spakky.core.pod.annotations.pod import Pod
from spakky.core.pod.interfaces.application_context import IApplicationContext
from spakky.core.pod.interfaces.aware.application_context_aware import (
    IApplicationContextAware,
)

from spakky.dispatch.core.arguments import check_arguments
from spakky.dispatch.core.binding import TaskBinding
from spakky.dispatch.core.call import TaskCall
from spakky.dispatch.core.context import TASK_CONTEXT_KEY, TaskExecution
from spakky.dispatch.core.error import TaskNotRegisteredError
from spakky.dispatch.core.handle import ITaskHandle
from spakky.dispatch.core.limits import HeaderLimits
from spakky.dispatch.core.message import TaskMessage
from spakky.dispatch.core.options import call_options, merge_options, validate_options
from spakky.dispatch.core.ports import (
    IAsyncTaskSender,
    ITaskSender,
    ITaskSenderDecorator,
)
from spakky.dispatch.core.propagation import HeaderPropagation
from spakky.dispatch.core.registry import TaskRegistry

_MAX_BOUND = 4096
"""Method objects whose binding is kept before the cache starts over."""


def new_task_id() -> str:
    """A random (version 4) UUID in its 36-character form, as task queues use.

    Same as ``str(uuid.uuid4())``, without building a ``UUID`` object (about
    half the time, on a path every dispatch takes).
    """
    raw = bytearray(urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


@Pod()
class TaskDispatcher(IApplicationContextAware):
    """Builds task messages and hands them to the transport's sender.

    The sync and async dispatch aspects are thin shells over ``route`` and
    ``dispatch`` / ``dispatch_async``. Every message is checked against the
    transport sender's ``header_limits`` (reserved names, budget) before it is
    sent. With an ``ITaskSenderDecorator`` in the container, messages go
    through the senders it returns instead of the transport's, still checked
    against the transport's limits.
    """

    _registry: TaskRegistry
    _propagation: HeaderPropagation
    _propagates: bool
    _bound: dict[int, tuple[Callable[..., object], TaskBinding]]
    _limits: HeaderLimits
    _sender: ITaskSender
    _async_sender: IAsyncTaskSender | None
    _application_context: IApplicationContext | None

    def __init__(
        self,
        registry: TaskRegistry,
        propagation: HeaderPropagation,
        sender: ITaskSender,
        async_sender: IAsyncTaskSender | None = None,
        decorator: ITaskSenderDecorator | None = None,
    ) -> None:
        self._registry = registry
        self._propagation = propagation
        self._propagates = bool(propagation.propagators)
        self._bound = {}
        self._limits = sender.header_limits
        if decorator is not None:
            sender, async_sender = decorator.decorate(sender, async_sender)
        self._sender = sender
        self._async_sender = async_sender
        self._application_context = None

    def set_application_context(self, application_context: IApplicationContext) -> None:
        """Keep the context whose scope tells whether we run inside a worker."""
        self._application_context = application_context

    def route(self, method: Callable[..., object]) -> TaskBinding | None:
        """Decide what an intercepted ``@task`` call does.

        Returns:
            None when the call runs inline (inside a worker-side task), else the
            task to send.

        Raises:
            TaskNotRegisteredError: The method's class is not a registered
                ``@TaskHandler``.
        """
        context = self._application_context
        if context is not None and isinstance(
            context.get_context_value(TASK_CONTEXT_KEY), TaskExecution
        ):
            return None
        return self.binding_of(method)

    def binding_of(self, method: Callable[..., object]) -> TaskBinding:
        """Return the task registered for a bound ``@task`` method.

        The answer is kept for the method object of a singleton handler (the
        one its aspect proxy hands over on every call), so later calls skip
        the lookup.

        Raises:
            TaskNotRegisteredError: The method's class is not a registered
                ``@TaskHandler``.
        """
        known = self._bound.get(id(method))
        if known is not None and known[0] is method:
            return known[1]
        owner = getattr(method, "__self__", None)
        if owner is None:  # a proxy's wrapper: the bound method is __wrapped__
            owner = getattr(unwrap(method), "__self__", None)
        name = getattr(method, "__name__", "?")
        binding = (
            None if owner is None else self._registry.for_method(type(owner), name)
        )
        if binding is None:
            where = name if owner is None else f"{type(owner).__qualname__}.{name}"
            raise TaskNotRegisteredError(
                f"{where} is not a registered task; put @task methods on a class "
                "decorated with @TaskHandler() that the application scans or adds"
            )
        if binding.singleton:
            if len(self._bound) >= _MAX_BOUND:
                self._bound.clear()
            self._bound[id(method)] = (method, binding)  # holds it: the id stays its
        return binding

    def message(
        self,
        task: TaskBinding,
        args: tuple[object, ...],
        kwargs: Mapping[str, object],
    ) -> TaskMessage:
        """Build the message for one call, with every propagator's headers.

        The task's declared options apply, overridden by an active
        ``dispatch_options`` block. The message gets its id here (a UUID4
        string), before the propagators are asked for headers, so they may
        bind what they write to this one message.

        Raises:
            TaskArgumentsError: The arguments do not bind to the method's
                signature (a ``TypeError``, as Python's own).
            InvalidDispatchOptionsError: The merged options contradict each other.
            ReservedHeaderError: A header uses a name the transport reserves.
            HeaderBudgetExceededError: The headers exceed the transport's budget.
        """
        check_arguments(task, args, kwargs)
        options = task.options
        override = call_options()
        if override is not None:
            options = merge_options(options, override)
            validate_options(options, where=task.name)
        task_id = new_task_id()
        headers: dict[str, str] = {}
        if self._propagates:
            call = TaskCall(
                task=task, task_id=task_id, args=args, kwargs=kwargs, options=options
            )
            headers = self._propagation.inject(call)
            if headers:
                self._limits.check(task.name, headers)
        return TaskMessage(
            task_name=task.name,
            args=args,
            kwargs=kwargs,
            headers=headers,
            options=options,
            task_id=task_id,
        )

    def dispatch(
        self,
        task: TaskBinding,
        args: tuple[object, ...],
        kwargs: Mapping[str, object],
    ) -> ITaskHandle[Any]:
        """Send one call of ``task`` to the broker."""
        return self._sender.send(self.message(task, args, kwargs))

    async def dispatch_async(
        self,
        task: TaskBinding,
        args: tuple[object, ...],
        kwargs: Mapping[str, object],
    ) -> ITaskHandle[Any]:
        """Send one call of ``task`` from async code."""
        message = self.message(task, args, kwargs)
        if self._async_sender is not None:
            return await self._async_sender.send_async(message)
        return self._sender.send(message)

    @contextmanager
    def sending_to(self, sender: ITaskSender) -> Iterator[ITaskSender]:
        """Send through ``sender`` instead of the transport until the block ends.

        Meant for tests: ``with dispatcher.sending_to(InMemoryTaskSender()) as s:``
        captures every dispatch of the block (sync and async) in ``s``. The
        messages are still checked against the transport's header limits.
        """
        saved = self._sender, self._async_sender
        self._sender, self._async_sender = sender, None
        try:
            yield sender
        finally:
            self._sender, self._async_sender = saved

    @overload
    def send[**P, R](  # async methods first: they match both
        self,
        method: Callable[P, Coroutine[Any, Any, R]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> ITaskHandle[R]: ...

    @overload
    def send[**P, R](
        self, method: Callable[P, R], *args: P.args, **kwargs: P.kwargs
    ) -> ITaskHandle[R]: ...

    def send(
        self, method: Callable[..., object], *args: object, **kwargs: object
    ) -> ITaskHandle[Any]:
        """Send a ``@task`` call to the broker, typed, even from inside a worker.

        The handle is typed by the method: ``send(handler.add, 1, 2)`` on a
        method returning ``int`` gives an ``ITaskHandle[int]`` (for an
        ``async def`` method, the type it returns when awaited), and mypy
        checks the arguments against the method.

        Example:
            ``dispatcher.send(report_handler.build, day).get(timeout=30)``

        Raises:
            TaskNotRegisteredError: ``method`` is not a registered task.
            TaskArgumentsError: The arguments do not bind to the method.
        """
        return self.dispatch(self.binding_of(method), args, kwargs)

    @overload
    async def send_async[**P, R](
        self,
        method: Callable[P, Coroutine[Any, Any, R]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> ITaskHandle[R]: ...

    @overload
    async def send_async[**P, R](
        self, method: Callable[P, R], *args: P.args, **kwargs: P.kwargs
    ) -> ITaskHandle[R]: ...

    async def send_async(
        self, method: Callable[..., object], *args: object, **kwargs: object
    ) -> ITaskHandle[Any]:
        """``send`` for async code: the publish does not block the event loop.

        Example:
            ``handle = await dispatcher.send_async(handler.restock, 8)``
        """
        return await self.dispatch_async(self.binding_of(method), args, kwargs)
