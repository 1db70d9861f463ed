"""Startup registration shared by transport plugins."""

from abc import ABC, abstractmethod
from logging import getLogger
from typing import override

from spakky.core.pod.interfaces.application_context import IApplicationContext
from spakky.core.pod.interfaces.aware.application_context_aware import (
    IApplicationContextAware,
)
from spakky.core.pod.interfaces.post_processor import IPostProcessor

from spakky.dispatch.core.registrar import TaskRegistrar

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


class AbstractTaskRegistrationPostProcessor(
    IPostProcessor, IApplicationContextAware, ABC
):
    """Registers tasks, endpoints and schedules of every ``@TaskHandler`` pod.

    Registration runs once, when the container attaches the post-processor at
    the start of the application, before any handler is built: it reads the
    registered pod types (so ``@Lazy`` handlers are included) and never
    depends on the order in which pods are instantiated. A transport plugin
    subclasses it (and decorates the subclass with ``@Pod()``).
    """

    _registered: bool

    def __init__(self) -> None:
        self._registered = False

    @abstractmethod
    def prepare(self, application_context: IApplicationContext) -> None:
        """Settle the transport's own pods before tasks are registered."""
        ...

    @override
    def set_application_context(self, application_context: IApplicationContext) -> None:
        if self._registered:
            return
        self._registered = True
        self.prepare(application_context)
        registrar = application_context.get(TaskRegistrar)
        registrar.register_container(application_context)
        if not len(registrar.registry):
            logger.warning(EMPTY_APPLICATION_WARNING)

    @override
    def post_process(self, pod: object) -> object:
        return pod
