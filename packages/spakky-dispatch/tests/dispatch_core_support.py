"""In-test fakes of the core's ports and a tiny Spakky application around them.

Nothing here imports a transport: the core is exercised with its own
``InMemoryTaskSender`` and these recording fakes, as a second adapter would be.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, override

from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext
from spakky.core.pod.annotations.pod import Pod, PodType
from spakky.task.interfaces.task_result import ITaskResult

from spakky.dispatch.core import TaskDispatcher
from spakky.dispatch.core.adapter import (
    HeaderPropagation,
    IAsyncTaskSender,
    IScheduleRegistrar,
    ITaskEndpointRegistrar,
    ScheduledCall,
    ScheduleSpec,
    TaskBinding,
    TaskInvoker,
    TaskMessage,
    TaskRegistrar,
    TaskRegistry,
)
from spakky.dispatch.core.testing import InMemoryTaskSender


@Pod()
class RecordingEndpointRegistrar(ITaskEndpointRegistrar):
    """Records every binding a transport would expose to its workers."""

    bindings: list[TaskBinding]

    def __init__(self) -> None:
        self.bindings = []

    @override
    def register(self, binding: TaskBinding) -> None:
        self.bindings.append(binding)


@Pod()
class RecordingScheduleRegistrar(IScheduleRegistrar):
    """Records every periodic entry a transport would create."""

    entries: list[tuple[str, ScheduleSpec]]
    calls: dict[str, ScheduledCall]

    def __init__(self) -> None:
        self.entries = []
        self.calls = {}

    @override
    def register(self, task_name: str, spec: ScheduleSpec, call: ScheduledCall) -> None:
        self.entries.append((task_name, spec))
        self.calls[task_name] = call


@Pod()
def in_memory_task_sender() -> InMemoryTaskSender:
    """The core's own in-memory transport, as the application's ``ITaskSender``."""
    return InMemoryTaskSender()


@Pod()
class RecordingAsyncTaskSender(IAsyncTaskSender):
    """An async sender that keeps what it was given (handles come from memory)."""

    sent: InMemoryTaskSender

    def __init__(self) -> None:
        self.sent = InMemoryTaskSender()

    @override
    async def send_async(self, message: TaskMessage) -> ITaskResult[Any]:
        return self.sent.send(message)


CORE_PODS: tuple[PodType, ...] = (
    TaskRegistry,
    HeaderPropagation,
    TaskDispatcher,
    TaskInvoker,
    TaskRegistrar,
)
"""The core's own pods, as the plugin adds them."""

PORT_FAKES: tuple[PodType, ...] = (
    RecordingEndpointRegistrar,
    RecordingScheduleRegistrar,
    in_memory_task_sender,
)
"""The smallest transport: recording registrars and the in-memory sender."""


@dataclass(frozen=True, slots=True)
class Harness:
    """A started application with the core wired to in-memory ports."""

    app: SpakkyApplication
    context: ApplicationContext

    @property
    def registry(self) -> TaskRegistry:
        """The application's task registry."""
        return self.context.get(TaskRegistry)

    @property
    def registrar(self) -> TaskRegistrar:
        """The application's task registrar."""
        return self.context.get(TaskRegistrar)

    @property
    def dispatcher(self) -> TaskDispatcher:
        """The application's dispatcher."""
        return self.context.get(TaskDispatcher)

    @property
    def invoker(self) -> TaskInvoker:
        """The application's worker-side invoker."""
        return self.context.get(TaskInvoker)

    @property
    def propagation(self) -> HeaderPropagation:
        """The composed header propagators."""
        return self.context.get(HeaderPropagation)

    @property
    def sender(self) -> InMemoryTaskSender:
        """The in-memory ``ITaskSender``."""
        return self.context.get(InMemoryTaskSender)

    @property
    def endpoints(self) -> RecordingEndpointRegistrar:
        """The recording endpoint registrar."""
        return self.context.get(RecordingEndpointRegistrar)

    @property
    def schedules(self) -> RecordingScheduleRegistrar:
        """The recording schedule registrar."""
        return self.context.get(RecordingScheduleRegistrar)

    def get[T](self, type_: type[T]) -> T:
        """Resolve a pod of the application."""
        return self.context.get(type_)


@contextmanager
def running_app(*pods: PodType, register: bool = True) -> Iterator[Harness]:
    """Start ``SpakkyApplication(ApplicationContext())`` with the core and ``pods``.

    Args:
        pods: Handlers and extra fakes to add beside the core and port fakes.
        register: Whether to run ``TaskRegistrar.register_container`` once
            started, as the plugin's post-processor does.
    """
    context = ApplicationContext()
    app = SpakkyApplication(context)
    for pod in (*CORE_PODS, *PORT_FAKES, *pods):
        app.add(pod)
    app.start()
    harness = Harness(app=app, context=context)
    try:
        if register:
            harness.registrar.register_container(context)
        yield harness
    finally:
        harness.invoker.runner.close()
        app.stop()
