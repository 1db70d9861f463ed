"""An application the core's command-line tests load."""

from typing import override

from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext
from spakky.core.pod.annotations.pod import Pod
from spakky.core.pod.interfaces.application_context import IApplicationContext
from spakky.task import TaskHandler, task

from spakky.dispatch.core import CORE_COMPONENTS
from spakky.dispatch.core.startup import AbstractTaskRegistrationPostProcessor

from ..dispatch_core_support import PORT_FAKES


@TaskHandler()
class Reports:
    """One task to list."""

    @task
    def build(self, day: str) -> str:
        return day


@Pod()
class Registration(AbstractTaskRegistrationPostProcessor):
    """The registration a transport plugin adds; this transport has nothing to do."""

    @override
    def prepare(self, application_context: IApplicationContext) -> None:
        """Nothing to settle."""


def build() -> SpakkyApplication:
    """The core, in-memory ports and ``Reports``, not started."""
    app = SpakkyApplication(ApplicationContext())
    for pod in (*CORE_COMPONENTS, *PORT_FAKES, Registration, Reports):
        app.add(pod)
    return app


def empty() -> SpakkyApplication:
    """The same application without any handler."""
    app = SpakkyApplication(ApplicationContext())
    for pod in (*CORE_COMPONENTS, *PORT_FAKES, Registration):
        app.add(pod)
    return app
