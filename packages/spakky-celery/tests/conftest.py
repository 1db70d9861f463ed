"""Fixtures for the plugin tests: applications on Celery's in-memory transport."""

import os
from collections.abc import Callable, Iterator
from types import ModuleType

import pytest
from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext

import spakky.plugins.celery


@pytest.fixture
def memory_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """``SPAKKY_CELERY__*`` pointing at the in-memory broker and result store."""
    for name in list(os.environ):
        if name.upper().startswith("SPAKKY_CELERY__"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SPAKKY_CELERY__BROKER_URL", "memory://")
    monkeypatch.setenv("SPAKKY_CELERY__RESULT_BACKEND", "cache+memory://")
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
        app.load_plugins(include={spakky.plugins.celery.PLUGIN_NAME})
        for module in modules:
            app.scan(module)
        app.start()
        started.append(app)
        return app

    yield build
    for app in started:
        app.stop()
