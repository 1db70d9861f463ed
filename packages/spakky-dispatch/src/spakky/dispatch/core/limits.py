"""``HeaderLimits``: what headers a transport can carry, declared by its sender.

Each sender declares its limits (``ITaskSender.header_limits``); the
dispatcher enforces them on every message, once, before the sender sees it, so
every transport obeys the same two rules: no header may take a name that the
transport's own protocol uses, and the headers of one message stay within a
size budget (a broker such as RabbitMQ closes the connection when a header
frame is too large).
"""

from collections.abc import Mapping
from dataclasses import dataclass

from spakky.dispatch.core.error import HeaderBudgetExceededError, ReservedHeaderError

DEFAULT_MAX_HEADER_BYTES = 16384
"""Default budget of the propagation headers of one message (names and values)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HeaderLimits:
    """The header names a transport reserves, and its header size budget."""

    reserved: frozenset[str] = frozenset()
    """Names the transport's message protocol uses for itself."""

    reserved_prefixes: tuple[str, ...] = ()
    """Prefixes of names the transport uses for itself (its own labels)."""

    max_bytes: int | None = None
    """Budget of one message's headers in UTF-8 bytes; None: unbounded."""

    budget_setting: str = "the transport's header budget"
    """Where a user raises ``max_bytes``, named in the error: a variable."""

    def check(self, task_name: str, headers: Mapping[str, str]) -> None:
        """Refuse ``headers`` this transport cannot carry.

        Raises:
            ReservedHeaderError: A header uses a reserved name; the error
                names every such header.
            HeaderBudgetExceededError: The headers are larger than
                ``max_bytes``; the error names the largest and the setting.
        """
        clash = (not self.reserved.isdisjoint(headers)) or (
            self.reserved_prefixes
            and any(name.startswith(self.reserved_prefixes) for name in headers)
        )
        if clash:
            names = sorted(
                name
                for name in headers
                if name in self.reserved or name.startswith(self.reserved_prefixes)
            )
            raise ReservedHeaderError(f"{task_name}: {names}")
        if self.max_bytes is not None:
            self._check_budget(task_name, headers, self.max_bytes)

    def _check_budget(
        self, task_name: str, headers: Mapping[str, str], max_bytes: int
    ) -> None:
        total = 0
        for name, value in headers.items():
            total += len(name.encode()) + len(value.encode())
        if total <= max_bytes:
            return
        sizes = {
            name: len(name.encode()) + len(value.encode())
            for name, value in headers.items()
        }
        largest = sorted(sizes.items(), key=lambda item: item[1], reverse=True)[:3]
        raise HeaderBudgetExceededError(
            f"{task_name}: {total} bytes of headers, budget {max_bytes} (largest: "
            + ", ".join(f"{name!r} {size} B" for name, size in largest)
            + f"); raise it with {self.budget_setting}"
        )


NO_HEADER_LIMITS = HeaderLimits()
"""A transport that reserves no name and carries headers of any size."""
