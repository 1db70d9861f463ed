"""``PromptReceiver``: taskiq's receiver, noticing shutdown signals promptly.

taskiq's worker sets its shutdown event from a plain ``signal.signal``
handler, which runs while the event loop sleeps in ``select`` but cannot wake
it: the worker then stops only when some I/O or timer next wakes the loop,
seconds later on an idle RabbitMQ connection. This receiver keeps a short
timer running until shutdown is asked for, so a stopped worker stops at once.
"""

import asyncio
from typing import override

from taskiq.receiver import Receiver

WAKE_INTERVAL = 0.2
"""Seconds between two wake-ups of an idle worker loop."""


class PromptReceiver(Receiver):
    """A taskiq ``Receiver`` whose worker reacts to SIGTERM/SIGINT within 0.2 s."""

    @override
    async def listen(self, finish_event: asyncio.Event) -> None:
        waker = asyncio.ensure_future(_wake_until(finish_event))
        try:
            await super().listen(finish_event)
        finally:
            waker.cancel()


async def _wake_until(finish_event: asyncio.Event) -> None:
    while not finish_event.is_set():
        await asyncio.sleep(WAKE_INTERVAL)
