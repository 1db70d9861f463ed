"""Startup shared by transport plugins: composition, defaults, registration."""

from collections.abc import Iterable
from dataclasses import dataclass
from logging import getLogger
from typing import override

from spakky.core.application.application import SpakkyApplication
from spakky.core.common.annotation import Annotation
from spakky.core.pod.annotations.pod import Pod, PodType
from spakky.core.pod.interfaces.application_context import IApplicationContext
from spakky.core.pod.interfaces.aware.application_context_aware import (
    IApplicationContextAware,
)
from spakky.core.pod.interfaces.container import IContainer
from spakky.core.pod.interfaces.post_processor import IPostProcessor

from spakky.dispatch.core.aspects import AsyncTaskDispatchAspect, TaskDispatchAspect
from spakky.dispatch.core.components import CORE_COMPONENTS
from spakky.dispatch.core.error import TransportConflictError
from spakky.dispatch.core.ports import ITaskSender
from spakky.dispatch.core.registrar import TaskRegistrar, add_machinery

logger = getLogger("spakky.dispatch")

EMPTY_APPLICATION_WARNING = (
    "No @task or @schedule method is registered in this application, so no "
    "call is sent and a worker has nothing to run. SpakkyApplication.scan() "
    "without arguments scans the package of the module that calls it and "
    "skips that module itself: put @TaskHandler classes in another module of "
    "that package (e.g. handlers.py: the scan imports it), pass that module "
    "or package to scan(...), or add the class with app.add(...)."
)
"""Logged once at startup when an application has no task at all."""


@dataclass
class Fallback(Annotation):
    """Marks a plugin's default pod: one the application registers of its type wins.

    Put it on a lazy default (``@Fallback() @Lazy() @Pod(name=...)``): when
    the application registers exactly one other pod of the same type, before
    or after loading the plugin, the type is bound to that pod at startup and
    the default is never built (see ``prefer_user_pod``).
    """


def prefer_user_pod(
    application_context: IApplicationContext, type_: type, default_name: str
) -> None:
    """Make a ``type_`` pod registered by the user win over the plugin's default.

    With exactly one user pod, ``type_`` is bound to it; with several, the user's
    ``@Primary`` decides as usual. A lazy default is then never built.
    """
    users = [
        pod
        for pod in application_context.pods.values()
        if pod.is_family_with(type_) and pod.name != default_name
    ]
    if len(users) == 1:
        application_context.bind_to_name(type_, users[0].name)


def refuse_second_transport(container: IContainer) -> None:
    """Fail clearly when two transports registered a task sender.

    Raises:
        TransportConflictError: More than one ``ITaskSender`` pod is registered.
    """
    senders = sorted(
        f"{pod.type_.__module__}.{pod.type_.__qualname__}"
        for pod in container.pods.values()
        if pod.is_family_with(ITaskSender)
    )
    if len(senders) > 1:
        raise TransportConflictError(f"task senders: {', '.join(senders)}")


def add_transport(app: SpakkyApplication, components: Iterable[PodType]) -> None:
    """Add the core, a transport's ``components`` and the dispatch machinery to ``app``.

    What a transport plugin's ``initialize`` does: the core's pods, the given
    ones (the transport's ports, its settings, context adapters), the two
    dispatch aspects and ``TaskRegistrationPostProcessor``.

    Raises:
        TransportConflictError: Another transport's sender is registered already.
    """
    if app.container.contains(ITaskSender):
        raise TransportConflictError(
            "an ITaskSender is registered already (is another transport plugin "
            "loaded too?)"
        )
    machinery = (
        *CORE_COMPONENTS,
        *components,
        TaskDispatchAspect,
        AsyncTaskDispatchAspect,
        TaskRegistrationPostProcessor,
    )
    add_machinery(machinery)
    for component in machinery:
        app.add(component)


@Pod()
class TaskRegistrationPostProcessor(IPostProcessor, IApplicationContextAware):
    """Registers tasks, endpoints and schedules of every ``@TaskHandler`` pod.

    Registration runs once, when the container attaches the post-processor at
    the start of the application, before any handler is built: it reads the
    registered pod types (so ``@Lazy`` handlers are included) and never
    depends on the order in which pods are instantiated. First it refuses a
    second transport and lets pods the application registered win over the
    plugins' ``@Fallback`` defaults.
    """

    _registered: bool

    def __init__(self) -> None:
        self._registered = False

    @override
    def set_application_context(self, application_context: IApplicationContext) -> None:
        if self._registered:
            return
        self._registered = True
        refuse_second_transport(application_context)
        for pod in tuple(application_context.pods.values()):
            if Fallback.exists(pod.target):
                prefer_user_pod(application_context, pod.type_, pod.name)
        registrar = application_context.get(TaskRegistrar)
        registrar.register_container(application_context)
        if not len(registrar.registry):
            logger.warning(EMPTY_APPLICATION_WARNING)

    @override
    def post_process(self, pod: object) -> object:
        return pod
