"""``RelaySignal``: wakes this process's relay when a transaction commits."""

import threading

from spakky.core.pod.annotations.pod import Pod


@Pod()
class RelaySignal:
    """A commit that stored task messages sets it; the relay waits on it."""

    _event: threading.Event

    def __init__(self) -> None:
        self._event = threading.Event()

    def wake(self) -> None:
        """Make the relay look at the outbox now."""
        self._event.set()

    def wait(self, timeout: float) -> bool:
        """Wait until woken or ``timeout`` seconds pass; True when woken."""
        woken = self._event.wait(timeout)
        self._event.clear()
        return woken
