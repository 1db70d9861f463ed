"""The dispatch core alone, on its in-memory sender: what the cost rows measure in.

No transport and no broker, so a ratio here is an upper bound of what an
adapter adds: a real publish costs far more than the in-memory one.
"""

from collections.abc import Callable
from typing import cast, override

from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext
from spakky.core.pod.annotations.pod import Pod, PodType
from spakky.core.pod.interfaces.application_context import IApplicationContext
from spakky.core.pod.interfaces.aware.application_context_aware import (
    IApplicationContextAware,
)
from spakky.core.pod.interfaces.post_processor import IPostProcessor

from benchmarks.harness.core_api import (
    CORE_COMPONENTS,
    InMemoryTaskSender,
    IScheduleRegistrar,
    ITaskEndpointRegistrar,
    ITaskSender,
    ScheduledCall,
    ScheduleSpec,
    TaskBinding,
    TaskRegistrar,
    TaskRegistry,
)
from benchmarks.harness.rows import Row
from benchmarks.harness.timing import Sampler, Stat, per_call_us

SECTION = "6 cost"
TRANSPORT = "core"
OLD_MISSING = (
    "one adapter inside the core, with against without: 8.5.0 has no such parts"
)


@Pod()
class NoEndpoints(ITaskEndpointRegistrar):
    """No transport: tasks are run by calling the invoker directly."""

    @override
    def register(self, binding: TaskBinding) -> None:
        return None


@Pod()
class NoSchedules(IScheduleRegistrar):
    """No transport: schedules are ignored."""

    @override
    def register(self, task_name: str, spec: ScheduleSpec, call: ScheduledCall) -> None:
        return None


@Pod()
def in_memory_sender() -> ITaskSender:
    """The core's in-memory sender."""
    return InMemoryTaskSender()


@Pod()
class RegisterTasks(IPostProcessor, IApplicationContextAware):
    """Registers the handlers at startup, as a transport plugin does."""

    @override
    def set_application_context(self, application_context: IApplicationContext) -> None:
        application_context.get(TaskRegistrar).register_container(application_context)

    @override
    def post_process(self, pod: object) -> object:
        return pod


class CoreApp:
    """A started application of the core with ``pods``, and its parts."""

    def __init__(self, *pods: PodType) -> None:
        app = SpakkyApplication(ApplicationContext())
        for pod in (
            *CORE_COMPONENTS,
            NoEndpoints,
            NoSchedules,
            in_memory_sender,
            RegisterTasks,
            *pods,
        ):
            app.add(pod)
        self.app = app.start()
        self.context = cast(ApplicationContext, app.application_context)
        self.sender = cast(InMemoryTaskSender, self.context.get(ITaskSender))  # type: ignore[type-abstract]
        registry = self.context.get(TaskRegistry)
        self.tasks = {binding.method_name: binding for binding in registry}

    def sampler(self, call: Callable[[], object]) -> Sampler:
        """Times ``call``; the captured messages are dropped after each sample."""

        def sample(number: int) -> float:
            took = per_call_us(call, number)
            self.sender.clear()
            return took

        return sample


def cost_row(name: str, stats: dict[str, Stat], ours: str, raw: str, note: str) -> Row:
    """A cost row: side ``ours`` (with the adapter) against side ``raw``."""
    sides = {"ours": stats[ours], "raw": stats[raw]}
    return Row.of("cost", name, sides, old_missing=OLD_MISSING, target=note)
