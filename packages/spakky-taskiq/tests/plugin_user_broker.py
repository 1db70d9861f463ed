"""A user's own taskiq broker pod, which the plugin must use instead of its own."""

from spakky.core.pod.annotations.pod import Pod
from taskiq import InMemoryBroker


class OwnBroker(InMemoryBroker):
    """Marks the broker as the user's."""


@Pod()
def own_broker() -> OwnBroker:
    return OwnBroker()
