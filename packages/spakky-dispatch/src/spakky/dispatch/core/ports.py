"""The ports a transport (and a context propagator) implements.

A transport adapter provides an ``ITaskSender`` (or ``IAsyncTaskSender``), an
``IScheduleRegistrar`` and an ``ITaskEndpointRegistrar`` whose endpoints hand
every received message to :class:`~spakky.dispatch.core.invoker.TaskInvoker`.
Context adapters (tracing, auth) provide ``IHeaderPropagator``.
"""

from abc import ABC, abstractmethod
from collections.abc import Mapping, MutableMapping
from contextlib import AbstractContextManager
from typing import Any

from spakky.dispatch.core.binding import TaskBinding
from spakky.dispatch.core.call import TaskCall
from spakky.dispatch.core.error import ResultLookupUnsupportedError
from spakky.dispatch.core.handle import ITaskHandle
from spakky.dispatch.core.limits import NO_HEADER_LIMITS, HeaderLimits
from spakky.dispatch.core.message import TaskMessage
from spakky.dispatch.core.schedule import ScheduledCall, ScheduleSpec


class ITaskSender(ABC):
    """Hands task messages to a broker (blocking)."""

    @abstractmethod
    def send(self, message: TaskMessage) -> ITaskHandle[Any]:
        """Publish one task message.

        Args:
            message: The message to publish; its headers are final, and it
                must be published under ``message.task_id`` when that is set.

        Returns:
            A handle on the task's result.

        Raises:
            TaskDispatchError: The message was not published; nothing was sent.
        """
        ...

    @property
    def header_limits(self) -> HeaderLimits:
        """The header names this transport reserves and its header budget.

        The dispatcher checks every message against them before ``send`` is
        called, so a sender never sees headers it cannot carry. Default: no
        reserved name, no budget.
        """
        return NO_HEADER_LIMITS

    def result_for(self, task_id: str) -> ITaskHandle[Any]:
        """A handle on the task ``task_id``, sent (or to be sent) through this transport.

        Reads the same result a handle returned by ``send`` reads; sends
        nothing. A transport that can look results up by id overrides it.

        Raises:
            ResultLookupUnsupportedError: This transport cannot (the default).
        """
        raise ResultLookupUnsupportedError(type(self).__qualname__)


class IAsyncTaskSender(ABC):
    """Hands task messages to a broker without blocking the event loop."""

    @abstractmethod
    async def send_async(self, message: TaskMessage) -> ITaskHandle[Any]:
        """Publish one task message from async code.

        Args:
            message: The message to publish; its headers are final, and it
                must be published under ``message.task_id`` when that is set.

        Returns:
            A handle on the task's result.

        Raises:
            TaskDispatchError: The message was not published; nothing was sent.
        """
        ...


class ITaskSenderDecorator(ABC):
    """Stands between the dispatcher and the transport's senders.

    When one is registered, the dispatcher sends every message through the
    senders ``decorate`` returns; the container keeps the transport's own
    senders, so the decorator may hand messages to them later (a transactional
    outbox relays them after the database commits).
    """

    @abstractmethod
    def decorate(
        self, sender: ITaskSender, async_sender: IAsyncTaskSender | None
    ) -> tuple[ITaskSender, IAsyncTaskSender | None]:
        """Return the senders the dispatcher uses instead of the transport's.

        Args:
            sender: The transport's sender.
            async_sender: The transport's async sender, if it has one.

        Returns:
            The sender and async sender (or None) to dispatch through.
        """
        ...


class IScheduleRegistrar(ABC):
    """Turns neutral schedules into the transport's periodic entries."""

    @abstractmethod
    def register(self, task_name: str, spec: ScheduleSpec, call: ScheduledCall) -> None:
        """Schedule ``task_name`` according to ``spec``, sending ``call`` each time.

        Args:
            task_name: The registered task to run periodically.
            spec: When to run it.
            call: The arguments and delivery options of every run.

        Raises:
            InvalidScheduleRouteError: The transport cannot express ``spec``.
            AbstractSpakkyDispatchError: The transport cannot carry ``call``'s
                arguments or honour its options (raised at startup).
        """
        ...


class ITaskEndpointRegistrar(ABC):
    """Exposes registered tasks to the transport's workers."""

    @abstractmethod
    def register(self, binding: TaskBinding) -> None:
        """Make workers of this application execute ``binding`` when it arrives.

        The endpoint must pass each received message's arguments, headers and
        id to ``TaskInvoker.invoke``.

        Args:
            binding: The task to expose.
        """
        ...


class IHeaderPropagator(ABC):
    """Carries one kind of ambient context across the broker in message headers.

    On the dispatching side ``inject`` writes headers for the current context;
    on the worker ``restore`` rebuilds that context around the task call and
    tears it down afterwards, also when the task raises. Both see the call
    (``TaskCall``: task, message id, arguments), so a propagator may bind
    what it writes to one message. A propagator reads and writes only the
    headers named by ``fields``. Inbound parsing must not raise on malformed
    input unless the propagator's policy is fail-closed (auth). Propagators
    run in ascending ``@Order`` (outermost first on the worker).
    """

    @abstractmethod
    def fields(self) -> frozenset[str]:
        """Return the header names this propagator reads and writes."""
        ...

    @abstractmethod
    def inject(self, carrier: MutableMapping[str, str], call: TaskCall) -> None:
        """Write headers describing the current context into ``carrier``.

        Args:
            carrier: Outgoing headers; write only names from ``fields``.
            call: The call being dispatched (``call.task``, its message id,
                arguments and delivery options).
        """
        ...

    @abstractmethod
    def restore(
        self, carrier: Mapping[str, str], call: TaskCall
    ) -> AbstractContextManager[None]:
        """Return a context manager that activates the carried context.

        Args:
            carrier: Received headers, already limited to ``fields`` and to
                string values.
            call: The call about to run (``call.task``, the received message
                id and arguments; no delivery options).

        Returns:
            A context manager entered before the task and exited after it.
        """
        ...

    def needs_restore(self, task: TaskBinding) -> bool:
        """Whether ``restore`` has anything to do for ``task`` (default: yes).

        Answering False for a task lets the worker skip this propagator for
        it; the answer is asked once per task and kept. A fail-closed
        propagator raises here when it cannot decide (the task then fails).
        """
        return True
