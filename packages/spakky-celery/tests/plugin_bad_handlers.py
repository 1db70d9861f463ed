"""A pod with a @task method that is not a @TaskHandler: refused at startup."""

from spakky.core.pod.annotations.pod import Pod
from spakky.task import task


@Pod()
class NotAHandler:
    """Declares a task but forgot @TaskHandler()."""

    @task
    def orphan(self) -> None: ...
