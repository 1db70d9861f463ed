"""An application the core's command-line tests load."""

from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext
from spakky.task import TaskHandler, task

from spakky.dispatch.core.adapter import CORE_COMPONENTS, TaskRegistrationPostProcessor

from ..dispatch_core_support import PORT_FAKES


@TaskHandler()
class Reports:
    """One task to list."""

    @task
    def build(self, day: str) -> str:
        return day


def build() -> SpakkyApplication:
    """The core, in-memory ports and ``Reports``, not started."""
    app = SpakkyApplication(ApplicationContext())
    for pod in (*CORE_COMPONENTS, *PORT_FAKES, TaskRegistrationPostProcessor, Reports):
        app.add(pod)
    return app


def empty() -> SpakkyApplication:
    """The same application without any handler."""
    app = SpakkyApplication(ApplicationContext())
    for pod in (*CORE_COMPONENTS, *PORT_FAKES, TaskRegistrationPostProcessor):
        app.add(pod)
    return app
