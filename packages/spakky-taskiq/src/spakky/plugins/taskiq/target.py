"""The broker of a Spakky application, for taskiq's worker processes.

``spakky-taskiq worker package.module:app`` runs taskiq's own worker on
``spakky.plugins.taskiq.target:broker`` with ``SPAKKY_TASKIQ_APPLICATION`` set
to ``package.module:app``; each worker process then loads the application
(building nothing at import) and serves its broker. The same target works
with ``taskiq worker`` directly; pass the receiver ``spakky-taskiq worker``
uses, which refuses undecodable and foreign messages into the dead letters::

    SPAKKY_TASKIQ_APPLICATION=myservice.main:app \\
        taskiq worker spakky.plugins.taskiq.target:broker \\
        --receiver spakky.dispatch.taskiq.receiver:GuardedReceiver
"""

import os

from taskiq import AsyncBroker

from spakky.dispatch.core.loading import ApplicationNotFoundError, load_application

APPLICATION_VARIABLE = "SPAKKY_TASKIQ_APPLICATION"
"""Environment variable naming the application, as ``package.module:attribute``."""

TARGET = "spakky.plugins.taskiq.target:broker"
"""What taskiq's worker is given: this module's ``broker``."""

_brokers: dict[int, AsyncBroker] = {}


def __getattr__(name: str) -> AsyncBroker:
    if name != "broker":
        raise AttributeError(name)
    pid = os.getpid()
    if pid not in _brokers:
        spec = os.environ.get(APPLICATION_VARIABLE)
        if not spec:
            raise ApplicationNotFoundError(
                f"{APPLICATION_VARIABLE} is not set; start workers with "
                "`spakky-taskiq worker package.module:app`"
            )
        container = load_application(spec).container
        _brokers[pid] = container.get(AsyncBroker)  # type: ignore[type-abstract]
    return _brokers[pid]
