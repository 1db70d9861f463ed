"""The core's API by audience, and its neutral test kit on a transport-free app."""

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext
from spakky.task import TaskHandler, task

import spakky.dispatch.core
from spakky.dispatch.core import adapter, testing
from spakky.dispatch.core.adapter import add_transport
from spakky.dispatch.core.testing import (
    CapturedTasks,
    InMemoryTaskResult,
    InMemoryTaskSender,
    TaskNotDispatchedError,
    capture_tasks,
)

from .dispatch_core_support import PORT_FAKES

SOURCE = Path(spakky.dispatch.core.__file__).parent
TRANSPORT_WORDS = re.compile(r"celery|taskiq", re.IGNORECASE)


@TaskHandler()
class Shelf:
    @task
    def stock(self, item: str, count: int = 1) -> str:
        return f"{count} {item}"


def test_application_api_expect_at_most_thirty_names_all_defined() -> None:
    """What application authors import is short, and every name resolves."""
    names = spakky.dispatch.core.__all__
    assert len(names) <= 30
    assert len(set(names)) == len(names)
    for name in names:
        assert getattr(spakky.dispatch.core, name) is not None


def test_adapter_api_expect_superset_of_application_api() -> None:
    """An adapter imports from one module: it holds the application API too."""
    assert set(spakky.dispatch.core.__all__) < set(adapter.__all__)
    for name in adapter.__all__:
        assert getattr(adapter, name) is not None
    assert not set(testing.__all__) & set(spakky.dispatch.core.__all__)


def test_core_source_expect_no_transport_named() -> None:
    """No module of the core names a transport, in code, messages or docstrings."""
    hits = [
        f"{path.name}:{number}"
        for path in sorted(SOURCE.glob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if TRANSPORT_WORDS.search(line)
    ]
    assert hits == []


def _app() -> SpakkyApplication:
    app = SpakkyApplication(ApplicationContext())
    add_transport(app, PORT_FAKES)
    return app.add(Shelf).start()


def test_capture_tasks_expect_captured_asserted_then_run() -> None:
    """Without any transport: captured, matched by method or name, run with DI."""
    app = _app()
    try:
        with capture_tasks(app) as captured:
            handle = app.container.get(Shelf).stock("tea", count=2)
        assert isinstance(handle, InMemoryTaskResult)
        message = captured.assert_dispatched(Shelf.stock, "tea", count=2)
        assert captured.named(message.task_name) == [message]
        assert app.container.get(InMemoryTaskSender).messages == []
        with pytest.raises(TaskNotDispatchedError, match=r"captured: .*stock"):
            captured.assert_dispatched(Shelf.stock, "coffee")
        assert captured.run_all() == 1
        assert handle.get() == "2 tea"
        captured.clear()
        assert captured.messages == []
    finally:
        app.stop()


def test_spakky_task_capture_fixture_expect_capture_for_the_test(
    spakky_task_capture: Callable[[SpakkyApplication], CapturedTasks],
) -> None:
    """The pytest fixture of spakky-dispatch captures until the test ends."""
    app = _app()
    try:
        captured = spakky_task_capture(app)
        app.container.get(Shelf).stock("jam")
        captured.assert_dispatched(Shelf.stock, "jam")
        assert captured.run_all() == 1
        assert captured.results[0].get() == "1 jam"
    finally:
        app.stop()
