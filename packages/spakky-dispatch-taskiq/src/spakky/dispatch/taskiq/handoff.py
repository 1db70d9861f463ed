"""The formatter wrapper that lets a worker decode each message once.

``GuardedReceiver`` (``receiver.py``) decodes every message to check it, then
hands the decoded message to taskiq's receiver through the broker's formatter
instead of letting it decode the same bytes again. The send fast path
(``fast_send.py``) looks through the wrapper to the formatter it wraps. It
lives in a module of its own so that a caller that only sends does not load
the worker's receiver.
"""

from typing import override

from taskiq import BrokerMessage, TaskiqMessage
from taskiq.abc.formatter import TaskiqFormatter


class HandOffFormatter(TaskiqFormatter):
    """A broker's formatter that hands over a message decoded already.

    ``hand(data, message)`` makes the next ``loads(data)`` of those very bytes
    (taskiq's receiver, right after the check) return ``message``; every other
    call is the wrapped formatter's.
    """

    __slots__ = ("_data", "_message", "inner")

    inner: TaskiqFormatter
    """The wrapped formatter."""

    _data: bytes | None
    _message: TaskiqMessage | None

    def __init__(self, inner: TaskiqFormatter) -> None:
        self.inner = inner
        self._data = None
        self._message = None

    def hand(self, data: bytes, message: TaskiqMessage) -> None:
        """Let the next ``loads(data)`` return ``message``."""
        self._data, self._message = data, message

    def take_back(self, data: bytes) -> None:
        """Forget what ``hand(data, ...)`` left, if it was not taken."""
        if self._data is data:
            self._data = self._message = None

    @override
    def dumps(self, message: TaskiqMessage) -> BrokerMessage:
        return self.inner.dumps(message)

    @override
    def loads(self, message: bytes) -> TaskiqMessage:
        handed = self._message
        if handed is not None and message is self._data:
            self._data = self._message = None
            return handed
        return self.inner.loads(message)


def unwrapped(formatter: TaskiqFormatter) -> TaskiqFormatter:
    """``formatter``, or the one it wraps when it is a ``HandOffFormatter``."""
    return formatter.inner if type(formatter) is HandOffFormatter else formatter
