"""``TaskiqPostProcessor``: registers every ``@TaskHandler``'s tasks at startup."""

from typing import override

from spakky.core.pod.annotations.pod import Pod
from spakky.core.pod.interfaces.application_context import IApplicationContext

from spakky.dispatch.core.startup import AbstractTaskRegistrationPostProcessor
from spakky.plugins.taskiq.app import prefer_user_broker, refuse_second_transport


@Pod()
class TaskiqPostProcessor(AbstractTaskRegistrationPostProcessor):
    """Registers tasks, endpoints and schedules of every ``@TaskHandler`` pod.

    Another transport plugin is refused and a user's own broker pod is made to
    win over the default one first.
    """

    @override
    def prepare(self, application_context: IApplicationContext) -> None:
        refuse_second_transport(application_context)
        prefer_user_broker(application_context)
