"""``TaskiqPostProcessor``: registers every ``@TaskHandler``'s tasks at startup."""

from typing import override

from spakky.core.pod.annotations.pod import Pod
from spakky.core.pod.interfaces.application_context import IApplicationContext
from spakky.core.pod.interfaces.aware.application_context_aware import (
    IApplicationContextAware,
)
from spakky.core.pod.interfaces.post_processor import IPostProcessor

from spakky.dispatch.core import TaskRegistrar
from spakky.plugins.taskiq.app import prefer_user_broker, refuse_second_transport


@Pod()
class TaskiqPostProcessor(IPostProcessor, IApplicationContextAware):
    """Registers tasks, endpoints and schedules of every ``@TaskHandler`` pod.

    Registration runs once, when the container attaches this post-processor at
    the start of the application, before any handler is built: it reads the
    registered pod types (so ``@Lazy`` handlers are included) and never
    depends on the order in which pods are instantiated.
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
        prefer_user_broker(application_context)
        application_context.get(TaskRegistrar).register_container(application_context)

    @override
    def post_process(self, pod: object) -> object:
        return pod
