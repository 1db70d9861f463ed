"""Registration: every ``@TaskHandler`` pod's tasks and schedules, once, at startup."""

from collections.abc import Iterable
from inspect import Parameter, getmembers, isfunction, signature
from weakref import WeakSet

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
from spakky.dispatch.core.message import DEFAULT_OPTIONS, DispatchOptions
from spakky.dispatch.core.options import (
    ScheduleOptions,
    TaskOptions,
    merge_options,
    validate_options,
)
from spakky.dispatch.core.ports import IScheduleRegistrar, ITaskEndpointRegistrar
from spakky.dispatch.core.registry import TaskRegistry
from spakky.dispatch.core.schedule import (
    NO_ARGUMENTS,
    ScheduledCall,
    schedule_spec_from_route,
)

_MACHINERY: WeakSet[object] = WeakSet()
"""Pod targets of the dispatch machinery itself (``add_transport``'s pods)."""


def add_machinery(targets: Iterable[object]) -> None:
    """Mark pod targets as the dispatch machinery's own: the core's, a
    transport's and its context adapters' pods (``add_transport`` does).

    Registration does not look for ``@task`` methods on such a pod unless it
    is a ``@TaskHandler``: the check that refuses ``@task`` methods outside a
    ``@TaskHandler`` is for the application's classes, and scanning every
    member of the machinery's pods (a transport's client object alone may
    have over a hundred) was a measurable part of the start-up.
    """
    _MACHINERY.update(targets)


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
        if not TaskHandler.exists(handler_type):
            if pod.target in _MACHINERY:
                return ()
            routed = _routed_methods(handler_type)
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
        routed = _routed_methods(handler_type)
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
                call = binding.schedule_call or NO_ARGUMENTS
                self._schedules.register(binding.name, binding.schedule, call)
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
        task_name = task_name_for(handler_type, name)
        method = getattr(handler_type, name)
        declared = TaskOptions.get_or_none(method)
        options = DEFAULT_OPTIONS if declared is None else declared.dispatch
        scheduled = ScheduleOptions.get_or_none(method)
        if schedule is None:
            if scheduled is not None:
                raise InvalidTaskDefinitionError(
                    f"{task_name} has @schedule_options but no @schedule; add "
                    "@schedule(...) or remove @schedule_options"
                )
            spec, call = None, None
        else:
            spec = schedule_spec_from_route(schedule, task_name=task_name)
            call = _scheduled_call(task_name, method, options, scheduled)
        return TaskBinding.of(
            pod,
            name,
            dispatchable=route is not None,
            schedule=spec,
            schedule_call=call,
            auth=collect_task_auth_metadata(method, owner_type=handler_type),
            options=options,
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
        if route is not None or schedule is not None or ScheduleOptions.exists(member):
            routed[name] = (route, schedule)
    return routed


def _scheduled_call(
    task_name: str,
    method: object,
    declared: DispatchOptions,
    scheduled: ScheduleOptions | None,
) -> ScheduledCall:
    """The call each run sends; its arguments must fit the method's parameters."""
    call = NO_ARGUMENTS if scheduled is None else scheduled.call
    try:
        signature(method).bind(None, *call.args, **call.kwargs)  # type: ignore[arg-type]
    except TypeError as error:
        if scheduled is None:
            parameters = list(signature(method).parameters.values())[1:]  # type: ignore[arg-type]
            required = [
                p.name
                for p in parameters
                if p.default is Parameter.empty
                and p.kind not in (Parameter.VAR_POSITIONAL, Parameter.VAR_KEYWORD)
            ]
            raise InvalidTaskDefinitionError(
                f"{task_name} is a @schedule method but needs arguments "
                f"{required}; the scheduler sends none unless "
                "@schedule_options(args=..., kwargs=...) gives them, so give "
                "them there or give the parameters defaults"
            ) from error
        raise InvalidTaskDefinitionError(
            f"{task_name}: @schedule_options(args={call.args!r}, "
            f"kwargs={dict(call.kwargs)!r}) does not fit its parameters ({error})"
        ) from error
    options = merge_options(declared, call.options)
    validate_options(options, where=f"{task_name}: @task_options + @schedule_options")
    return ScheduledCall(args=call.args, kwargs=call.kwargs, options=options)
