"""Test kit: spakky-dispatch's transport-neutral one (``capture_tasks``, ...).

``spakky_task_capture``, its pytest fixture, is loaded automatically.
"""

from spakky.dispatch.core.testing import *  # noqa: F403  (the neutral test kit)
from spakky.dispatch.core.testing import __all__ as _kit

__all__ = [*_kit]
