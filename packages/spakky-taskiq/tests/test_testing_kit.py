"""The test kit with spakky-taskiq: the same capture and fixture as any transport."""

from collections.abc import Callable
from typing import Any

import pytest
from spakky.core.application.application import SpakkyApplication

import spakky.dispatch.core.testing
import spakky.plugins.taskiq
from spakky.plugins.taskiq.testing import (
    CapturedTasks,
    InMemoryTaskResult,
    TaskNotDispatchedError,
    capture_tasks,
)

from . import plugin_handlers
from .conftest import AppFactory
from .plugin_handlers import Mailer

Capture = Callable[[SpakkyApplication], CapturedTasks]


def test_kit_expect_the_neutral_kit_and_application_api_reexported() -> None:
    """The plugin's kit is spakky-dispatch's; its root holds the application API."""
    assert spakky.plugins.taskiq.testing.__all__ == spakky.dispatch.core.testing.__all__
    assert capture_tasks is spakky.dispatch.core.testing.capture_tasks
    assert set(spakky.dispatch.core.__all__) <= set(spakky.plugins.taskiq.__all__)
    for name in spakky.plugins.taskiq.__all__:
        assert getattr(spakky.plugins.taskiq, name) is not None


def test_fixture_with_taskiq_expect_captured_not_sent_then_run(
    memory_env: pytest.MonkeyPatch, make_app: AppFactory, spakky_task_capture: Capture
) -> None:
    """``spakky_task_capture`` works on a taskiq application as on any other."""
    app = make_app(plugin_handlers)
    captured = spakky_task_capture(app)
    mailer: Any = app.container.get(Mailer)
    handle = mailer.shout("quiet")
    assert isinstance(handle, InMemoryTaskResult)
    captured.assert_dispatched(Mailer.shout, "quiet")
    with pytest.raises(TaskNotDispatchedError):
        captured.assert_dispatched(Mailer.shout, "loud")
    assert captured.run_all() == 1
    assert handle.get() == "QUIET"


def test_capture_block_expect_transport_back_after_it(
    memory_env: pytest.MonkeyPatch, make_app: AppFactory
) -> None:
    """Outside the block, calls go to the broker again."""
    app = make_app(plugin_handlers)
    mailer: Any = app.container.get(Mailer)
    with capture_tasks(app) as captured:
        mailer.shout("a")
    assert len(captured.messages) == 1
    assert mailer.shout("b").get(timeout=5) == "B"
