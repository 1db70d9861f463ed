"""Fixtures for the plugin tests: applications on taskiq's in-memory broker."""

import os
from collections.abc import Callable, Iterator
from types import ModuleType

import pytest
from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext

import spakky.plugins.taskiq


@pytest.fixture
def memory_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """``SPAKKY_TASKIQ__*`` pointing at taskiq's in-memory broker."""
    for name in list(os.environ):
        if name.upper().startswith(("SPAKKY_TASKIQ", "SPAKKY_CELERY__")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SPAKKY_TASKIQ__BROKER_URL", "memory://")
    return monkeypatch


type AppFactory = Callable[..., SpakkyApplication]


@pytest.fixture
def make_app() -> Iterator[AppFactory]:
    """Build started applications from modules; stopped after the test."""
    started: list[SpakkyApplication] = []

    def build(
        *modules: ModuleType, before: tuple[object, ...] = ()
    ) -> SpakkyApplication:
        app = SpakkyApplication(ApplicationContext())
        for pod in before:
            app.add(pod)  # type: ignore[arg-type]
        app.load_plugins(include={spakky.plugins.taskiq.PLUGIN_NAME})
        for module in modules:
            app.scan(module)
        app.start()
        started.append(app)
        return app

    yield build
    for app in started:
        if app.application_context.is_started:
            app.stop()
