"""Registration: every ``@TaskHandler`` pod's tasks and schedules, once, at startup."""

from inspect import Parameter, getmembers, isfunction, signature

from spakky.core.pod.annotations.pod import Pod
from spakky.core.pod.interfaces.container import IContainer
from spakky.task import (
    ScheduleRoute,
    TaskHandler,
    TaskRoute,
    collect_task_auth_metadata,
)

from spakky.dispatch.core.binding import TaskBinding, task_name_for
from spakky.dispatch.core.error import (
    DuplicateTaskNameError,
    InvalidTaskDefinitionError,
)
from spakky.dispatch.core.message import DEFAULT_OPTIONS
from spakky.dispatch.core.options import TaskOptions
from spakky.dispatch.core.ports import IScheduleRegistrar, ITaskEndpointRegistrar
from spakky.dispatch.core.registry import TaskRegistry
from spakky.dispatch.core.schedule import schedule_spec_from_route


@Pod()
class TaskRegistrar:
    """Turns handler pods into task bindings, endpoints and schedules."""

    _registry: TaskRegistry
    _endpoints: ITaskEndpointRegistrar
    _schedules: IScheduleRegistrar
    _registered_pods: set[str]

    def __init__(
        self,
        registry: TaskRegistry,
        endpoints: ITaskEndpointRegistrar,
        schedules: IScheduleRegistrar,
    ) -> None:
        self._registry = registry
        self._endpoints = endpoints
        self._schedules = schedules
        self._registered_pods = set()

    @property
    def registry(self) -> TaskRegistry:
        """The registry the bindings go into."""
        return self._registry

    def register_container(self, container: IContainer) -> tuple[TaskBinding, ...]:
        """Register every ``@TaskHandler`` pod of ``container`` (idempotent).

        Raises:
            InvalidTaskDefinitionError: A pod that is not a ``@TaskHandler``
                declares ``@task`` or ``@schedule`` methods.
        """
        bindings: list[TaskBinding] = []
        for pod in sorted(container.pods.values(), key=lambda p: p.name):
            bindings.extend(self.register_pod(pod))
        return tuple(bindings)

    def register_pod(self, pod: Pod) -> tuple[TaskBinding, ...]:
        """Register the tasks of one pod; a pod already registered is skipped."""
        handler_type = pod.type_
        routed = _routed_methods(handler_type)
        if not TaskHandler.exists(handler_type):
            if routed:
                names = ", ".join(sorted(routed))
                raise InvalidTaskDefinitionError(
                    f"{handler_type.__module__}.{handler_type.__qualname__} declares "
                    f"@task/@schedule methods ({names}) but is not a @TaskHandler; "
                    "decorate the class with @TaskHandler()"
                )
            return ()
        if pod.name in self._registered_pods:
            return ()
        bindings = tuple(
            self._bind(pod, name, route, schedule)
            for name, (route, schedule) in sorted(routed.items())
        )
        for binding in bindings:  # check every name first: all or nothing
            existing = self._registry.find(binding.name)
            if existing is not None and existing != binding:
                raise DuplicateTaskNameError(binding.name)
        for binding in bindings:
            self._registry.add(binding)
        for binding in bindings:
            self._endpoints.register(binding)
            if binding.schedule is not None:
                self._schedules.register(binding.name, binding.schedule)
        self._registered_pods.add(pod.name)
        return bindings

    def _bind(
        self,
        pod: Pod,
        name: str,
        route: TaskRoute | None,
        schedule: ScheduleRoute | None,
    ) -> TaskBinding:
        handler_type = pod.type_
        method = getattr(handler_type, name)
        if schedule is not None:
            _require_no_arguments(handler_type, name, method)
        spec = (
            None
            if schedule is None
            else schedule_spec_from_route(
                schedule, task_name=task_name_for(handler_type, name)
            )
        )
        declared = TaskOptions.get_or_none(method)
        return TaskBinding.of(
            pod,
            name,
            dispatchable=route is not None,
            schedule=spec,
            auth=collect_task_auth_metadata(method, owner_type=handler_type),
            options=DEFAULT_OPTIONS if declared is None else declared.dispatch,
            retry=None if declared is None else declared.retry,
        )


def _routed_methods(
    handler_type: type[object],
) -> dict[str, tuple[TaskRoute | None, ScheduleRoute | None]]:
    routed: dict[str, tuple[TaskRoute | None, ScheduleRoute | None]] = {}
    if not isinstance(handler_type, type):
        return routed
    for name, member in getmembers(handler_type, predicate=isfunction):
        route = TaskRoute.get_or_none(member)
        schedule = ScheduleRoute.get_or_none(member)
        if route is not None or schedule is not None:
            routed[name] = (route, schedule)
    return routed


def _require_no_arguments(
    handler_type: type[object], name: str, method: object
) -> None:
    parameters = list(signature(method).parameters.values())[1:]  # type: ignore[arg-type]
    required = [
        p.name
        for p in parameters
        if p.default is Parameter.empty
        and p.kind not in (Parameter.VAR_POSITIONAL, Parameter.VAR_KEYWORD)
    ]
    if required:
        raise InvalidTaskDefinitionError(
            f"{task_name_for(handler_type, name)} is a @schedule method but needs "
            f"arguments {required}; the scheduler calls it without arguments, so "
            "give them defaults"
        )
