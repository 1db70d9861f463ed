"""One transport per application, and one import root per plugin."""

from collections.abc import Callable

import pytest
from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext

import spakky.dispatch.core
import spakky.plugins.celery
import spakky.plugins.taskiq
from spakky.dispatch.core.adapter import TransportConflictError
from spakky.plugins.celery.main import initialize as load_celery
from spakky.plugins.taskiq.main import initialize as load_taskiq

type Loader = Callable[[SpakkyApplication], None]


@pytest.fixture
def memory_brokers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPAKKY_CELERY__BROKER_URL", "memory://")
    monkeypatch.setenv("SPAKKY_TASKIQ__BROKER_URL", "memory://")


@pytest.mark.parametrize(
    ("first", "second"),
    [(load_celery, load_taskiq), (load_taskiq, load_celery)],
    ids=["celery-then-taskiq", "taskiq-then-celery"],
)
@pytest.mark.usefixtures("memory_brokers")
def test_two_transport_plugins_expect_conflict_whichever_loads_first(
    first: Loader, second: Loader
) -> None:
    """Loading the second transport fails clearly, in either order."""
    app = SpakkyApplication(ApplicationContext())
    first(app)
    with pytest.raises(TransportConflictError) as raised:
        second(app)
    assert "load one transport plugin" in str(raised.value)


@pytest.mark.parametrize("load", [load_celery, load_taskiq], ids=["celery", "taskiq"])
@pytest.mark.usefixtures("memory_brokers")
def test_second_sender_after_loading_expect_conflict_at_start(load: Loader) -> None:
    """A second transport's sender added after a plugin is refused at start."""
    from spakky.dispatch.celery import CeleryTaskSender
    from spakky.dispatch.taskiq import TaskiqTaskSender

    app = SpakkyApplication(ApplicationContext())
    load(app)
    other = TaskiqTaskSender if load is load_celery else CeleryTaskSender
    app.add(other)
    with pytest.raises(TransportConflictError) as raised:
        app.start()
    assert "CeleryTaskSender" in str(raised.value)
    assert "TaskiqTaskSender" in str(raised.value)


@pytest.mark.parametrize(
    "plugin", [spakky.plugins.celery, spakky.plugins.taskiq], ids=["celery", "taskiq"]
)
def test_plugin_root_expect_application_api_reexported(plugin: object) -> None:
    """An application imports from its plugin alone: the core's API is there."""
    exported = plugin.__all__
    assert set(spakky.dispatch.core.__all__) <= set(exported)
    for name in spakky.dispatch.core.__all__:
        assert getattr(plugin, name) is getattr(spakky.dispatch.core, name)
