"""What every guarded fast path shares: its probe's finding and one warning.

A fast path that reads or copies another library's private code checks, once
per process, that the code still has the shape it was written for: a probe
names its checks and ``changed_checks`` turns the failed ones into the problem
it reports. When there is a problem, the fast path takes the library's public
path and says so once (``FallbackWarning``). A probe compares the copied
code's source with the one the copy was written against through
``source_digest`` (every transport adapter's fast paths alike).
"""

import hashlib
import inspect
import linecache
import logging
import threading
from collections.abc import Mapping
from functools import cache
from operator import itemgetter
from types import CodeType
from typing import Any, cast


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


def _last_line(code: CodeType) -> int:
    """The last source line any instruction of ``code`` (or of the code nested
    in it) spans."""
    ends = filter(None, map(itemgetter(1), code.co_positions()))  # end lines
    last = max(ends, default=0)
    for constant in code.co_consts:
        if isinstance(constant, CodeType):
            last = max(last, _last_line(constant))
    return last


@cache
def source_text(function: object) -> str:
    """``function``'s source (as ``inspect.getsource`` gives it), read cheaply.

    The lines of its file from the code object's first line (its first
    decorator) to the last line its instructions span, without
    ``inspect.getsource``'s search for the module and tokenizing of the
    block. Falls back to ``inspect.getsource`` for objects without code and
    files ``linecache`` cannot read (it raises ``OSError`` when the source is
    unavailable). Only the trailing lines without code (comments, blank
    lines) can differ from ``inspect.getsource``, so a changed body changes
    the text. Cached: the guards run once per process, and each source is
    read once.
    """
    unwrapped = inspect.unwrap(cast(Any, function))
    code = getattr(getattr(unwrapped, "__func__", unwrapped), "__code__", None)
    if isinstance(code, CodeType):
        lines = linecache.getlines(code.co_filename)
        first, last = code.co_firstlineno, _last_line(code)
        if lines and first <= last <= len(lines):
            return "".join(lines[first - 1 : last])
    return inspect.getsource(unwrapped)


def source_digest(function: object) -> str:
    """SHA-256 of ``function``'s source (``source_text``), whitespace collapsed
    (layout changes too)."""
    text = " ".join(source_text(function).split())
    return hashlib.sha256(text.encode()).hexdigest()
