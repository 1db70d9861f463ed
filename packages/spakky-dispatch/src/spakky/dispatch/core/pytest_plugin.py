"""pytest fixtures for testing Spakky task handlers (loaded automatically).

The ``pytest11`` entry point of spakky-dispatch loads it, so every transport
plugin's users get the same fixtures.
"""

from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest
from spakky.core.application.application import SpakkyApplication

from spakky.dispatch.core.testing import CapturedTasks, capture_tasks


@pytest.fixture
def spakky_task_capture() -> Iterator[Callable[[SpakkyApplication], CapturedTasks]]:
    """Start capturing an application's dispatches; restored after the test.

    ``captured = spakky_task_capture(app)`` then call tasks, assert on
    ``captured.messages`` / ``captured.assert_dispatched(...)``, and
    ``captured.run_all()`` to execute them in-process.
    """
    with ExitStack() as stack:

        def capture(application: SpakkyApplication) -> CapturedTasks:
            return stack.enter_context(capture_tasks(application))

        yield capture
