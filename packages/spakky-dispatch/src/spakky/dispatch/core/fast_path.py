"""What every guarded fast path shares: its probe's finding and one warning.

A fast path that reads or copies another library's private code checks, once
per process, that the code still has the shape it was written for: a probe
names its checks and ``changed_checks`` turns the failed ones into the problem
it reports. When there is a problem, the fast path takes the library's public
path and says so once (``FallbackWarning``).
"""

import logging
import threading
from collections.abc import Mapping


def changed_checks(checks: Mapping[str, bool]) -> str | None:
    """``"changed: a, b"`` naming the checks that failed, or None if none did."""
    changed = [name for name, ok in checks.items() if not ok]
    return f"changed: {', '.join(changed)}" if changed else None


class FallbackWarning:
    """Logs, once per process and problem, that a fast path fell back."""

    __slots__ = ("_lock", "_logger", "_message", "_seen")

    _logger: logging.Logger
    _message: str
    _seen: set[str]
    _lock: threading.Lock

    def __init__(self, logger: logging.Logger, message: str) -> None:
        """``message`` is a logging format with one ``%s``: the problem."""
        self._logger = logger
        self._message = message
        self._seen = set()
        self._lock = threading.Lock()

    def __call__(self, problem: str) -> None:
        """Log ``problem`` unless it was logged already."""
        with self._lock:
            if problem in self._seen:
                return
            self._seen.add(problem)
        self._logger.warning(self._message, problem)

    def cache_clear(self) -> None:
        """Forget what was logged, so the next problem is logged again (tests)."""
        with self._lock:
            self._seen.clear()
