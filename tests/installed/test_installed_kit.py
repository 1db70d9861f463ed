"""The installed test kit, as a user's test suite uses it.

``tools/install_check.py`` copies this file into a folder outside the
repository and runs it with the pytest of a virtual environment that holds only
the built wheels, so the fixtures must come from the installed ``pytest11``
entry point. The workspace's own test run does not collect it (see the root
``conftest.py``): there the plugin is loaded from source instead.
"""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext
from spakky.core.pod.annotations.pod import Pod
from spakky.task import TaskHandler, task

import spakky.dispatch.core
import spakky.plugins.celery


@Pod()
class Outbox:
    """Where the handler puts what it sends."""

    def __init__(self) -> None:
        self.sent: list[str] = []


@TaskHandler()
class Mailer:
    """A task that needs an injected dependency on the worker."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    @task
    def welcome(self, address: str) -> str:
        self.outbox.sent.append(address)
        return f"welcomed {address}"


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Iterator[SpakkyApplication]:
    """The application, on Celery's in-memory broker and result backend."""
    monkeypatch.setenv("SPAKKY_CELERY__BROKER_URL", "memory://")
    monkeypatch.setenv("SPAKKY_CELERY__RESULT_BACKEND", "cache+memory://")
    application = (
        SpakkyApplication(ApplicationContext())
        .load_plugins(include={spakky.plugins.celery.PLUGIN_NAME})
        .add(Outbox)
        .add(Mailer)
        .start()
    )
    yield application
    application.stop()


def test_kit_plugin_expect_loaded_from_installed_entry_point(
    request: pytest.FixtureRequest,
) -> None:
    """pytest found both kits through their entry points, in the installed packages.

    ``spakky_task_capture`` comes from spakky-dispatch (every transport's),
    ``spakky_celery_worker`` from spakky-celery.
    """
    manager = request.config.pluginmanager
    plugins = [
        manager.get_plugin(name) for name in ("spakky_dispatch", "spakky_celery")
    ]
    assert None not in plugins
    for module in (*plugins, spakky.dispatch.core, spakky.plugins.celery):
        location = Path(str(module.__file__))
        assert "site-packages" in location.parts, location


def test_kit_capture_expect_dispatched_then_run_with_injection(
    app: SpakkyApplication,
    spakky_task_capture: Callable[[SpakkyApplication], Any],
) -> None:
    """``spakky_task_capture`` keeps the dispatch; ``run_all`` runs it with DI."""
    captured = spakky_task_capture(app)
    app.container.get(Mailer).welcome("ada@example.com")
    captured.assert_dispatched(Mailer.welcome, "ada@example.com")
    assert app.container.get(Outbox).sent == []
    assert captured.run_all() == 1
    assert captured.results[0].get() == "welcomed ada@example.com"
    assert app.container.get(Outbox).sent == ["ada@example.com"]


def test_kit_worker_expect_round_trip_through_celery(
    app: SpakkyApplication,
    spakky_celery_worker: Callable[..., Celery],
) -> None:
    """``spakky_celery_worker`` runs a real Celery worker on the memory broker."""
    spakky_celery_worker(app)
    result = app.container.get(Mailer).welcome("grace@example.com")
    assert result.get(timeout=30) == "welcomed grace@example.com"
