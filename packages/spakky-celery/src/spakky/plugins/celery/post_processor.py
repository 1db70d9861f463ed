"""``CeleryPostProcessor``: registers every ``@TaskHandler``'s tasks at startup."""

from typing import override

from spakky.core.pod.annotations.pod import Pod
from spakky.core.pod.interfaces.application_context import IApplicationContext

from spakky.dispatch.core.startup import AbstractTaskRegistrationPostProcessor
from spakky.plugins.celery.app import prefer_user_celery_app


@Pod()
class CeleryPostProcessor(AbstractTaskRegistrationPostProcessor):
    """Registers tasks, endpoints and beat entries of every ``@TaskHandler`` pod.

    A user's own ``Celery`` pod is made to win over the default one first.
    """

    @override
    def prepare(self, application_context: IApplicationContext) -> None:
        prefer_user_celery_app(application_context)
