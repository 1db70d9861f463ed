"""Test kit: capture dispatched tasks without a broker, run them in-process.

It works the same whichever transport plugin the application loads.

Example::

    with capture_tasks(app) as captured:
        app.container.get(OrderHandler).place(order_id=7)
    captured.assert_dispatched(OrderHandler.place, order_id=7)
    captured.run_all()          # through the real worker pipeline: DI, propagators

The pytest plugin (``spakky.dispatch.core.pytest_plugin``, loaded automatically
when spakky-dispatch is installed) wraps ``capture_tasks`` as the
``spakky_task_capture`` fixture.
"""

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from inspect import unwrap
from typing import Any

from spakky.core.application.application import SpakkyApplication

from spakky.dispatch.core.dispatcher import TaskDispatcher
from spakky.dispatch.core.error import (
    AbstractSpakkyDispatchError,
    TaskNotRegisteredError,
)
from spakky.dispatch.core.invoker import TaskInvoker
from spakky.dispatch.core.memory import (
    InMemoryTaskResult,
    InMemoryTaskSender,
    TaskNotRunError,
)
from spakky.dispatch.core.message import TaskMessage
from spakky.dispatch.core.registry import TaskRegistry


class TaskNotDispatchedError(AbstractSpakkyDispatchError, AssertionError):
    """An expected dispatch is not among the captured messages."""

    message = "Expected task was not dispatched"


class CapturedTasks:
    """Messages dispatched inside a ``capture_tasks`` block, and their results."""

    def __init__(
        self, sender: InMemoryTaskSender, invoker: TaskInvoker, registry: TaskRegistry
    ) -> None:
        self._sender = sender
        self._invoker = invoker
        self._registry = registry

    @property
    def messages(self) -> list[TaskMessage]:
        """Every captured message, in dispatch order."""
        return self._sender.messages

    @property
    def results(self) -> list[InMemoryTaskResult]:
        """The result handle of every captured message, in dispatch order."""
        return list(self._sender.results)

    def named(self, task: str | Callable[..., Any]) -> list[TaskMessage]:
        """Messages of one task, given by name or by its handler method."""
        name = task if isinstance(task, str) else self._name_of(task)
        return [message for message in self.messages if message.task_name == name]

    def assert_dispatched(
        self,
        task: str | Callable[..., Any],
        *args: object,
        headers: Mapping[str, str] | None = None,
        **kwargs: object,
    ) -> TaskMessage:
        """Return the first message of ``task`` with these arguments (and headers).

        Raises:
            TaskNotDispatchedError: No such message; the error lists what was sent.
        """
        candidates = self.named(task)
        for message in candidates:
            if (
                message.args == args
                and dict(message.kwargs) == kwargs
                and (
                    headers is None
                    or all(message.headers.get(k) == v for k, v in headers.items())
                )
            ):
                return message
        sent = [f"{m.task_name}{m.args}{dict(m.kwargs)}" for m in self.messages] or [
            "nothing"
        ]
        name = task if isinstance(task, str) else self._name_of(task)
        raise TaskNotDispatchedError(
            f"{name} with args={args} kwargs={kwargs} headers={headers}; "
            f"captured: {'; '.join(sent)}"
        )

    def run_all(self) -> int:
        """Run every captured message not run yet, as a worker would.

        Tasks dispatched while running are captured and run too. Each task's
        value or exception lands on its result handle.

        Returns:
            How many tasks ran.
        """
        return self._sender.run_pending(self._invoker.invoke_message)

    def clear(self) -> None:
        """Forget every captured message."""
        self._sender.clear()

    def _name_of(self, method: Callable[..., Any]) -> str:
        owner = getattr(unwrap(method), "__self__", None)
        name = getattr(method, "__name__", "?")
        if owner is not None:
            binding = self._registry.for_method(type(owner), name)
        else:  # a function taken from the class: OrderHandler.place
            binding = next(
                (
                    b
                    for b in self._registry
                    if getattr(b.handler_type, b.method_name, None) is method
                ),
                None,
            )
        if binding is None:
            raise TaskNotRegisteredError(
                f"{getattr(method, '__qualname__', name)} is not a registered task"
            )
        return binding.name


@contextmanager
def capture_tasks(application: SpakkyApplication) -> Iterator[CapturedTasks]:
    """Capture every dispatch of ``application`` until the block ends."""
    container = application.container
    dispatcher = container.get(TaskDispatcher)
    captured = CapturedTasks(
        InMemoryTaskSender(), container.get(TaskInvoker), container.get(TaskRegistry)
    )
    with dispatcher.sending_to(captured._sender):
        yield captured


__all__ = [
    "CapturedTasks",
    "InMemoryTaskResult",
    "InMemoryTaskSender",
    "TaskNotDispatchedError",
    "TaskNotRunError",
    "capture_tasks",
]
