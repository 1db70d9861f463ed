"""Plugin entry point (``spakky-dispatch-outbox``): opt in to transactional dispatch.

Load it next to a transport plugin::

    app.load_plugins(include={
        spakky.data.PLUGIN_NAME,
        spakky.plugins.sqlalchemy.PLUGIN_NAME,
        spakky.plugins.celery.PLUGIN_NAME,        # or spakky.plugins.taskiq's
        spakky.dispatch.outbox.PLUGIN_NAME,
    })

Neither transport knows about it: the dispatcher sends through the outbox
sender (the core's ``ITaskSenderDecorator``), and the relay publishes through
the sender the transport plugin registered.
"""

from spakky.core.application.application import SpakkyApplication

from spakky.dispatch.outbox.config import TaskOutboxConfig
from spakky.dispatch.outbox.sender import TaskOutboxDecorator
from spakky.dispatch.outbox.services import AsyncTaskOutboxRelay, TaskOutboxRelay
from spakky.dispatch.outbox.wakeup import RelaySignal


def initialize(app: SpakkyApplication) -> None:
    """Register the outbox sender, the relay of this process, and the SQL outbox.

    The SQLAlchemy task outbox is registered when spakky-sqlalchemy is
    installed; register your own ``ITaskOutbox`` pod (marked ``@Primary``) to
    keep task messages elsewhere.
    """
    config = TaskOutboxConfig()
    for component in (TaskOutboxConfig, RelaySignal, TaskOutboxDecorator):
        app.add(component)
    if config.relay == "thread":
        app.add(TaskOutboxRelay)
    elif config.relay == "async":
        app.add(AsyncTaskOutboxRelay)
    try:
        from spakky.dispatch.outbox.sqlalchemy import SqlAlchemyTaskOutbox
    except ImportError:  # pragma: no cover - spakky-sqlalchemy is not installed
        return
    app.add(SqlAlchemyTaskOutbox)
