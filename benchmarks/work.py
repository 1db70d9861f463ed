"""The work both sides do, importing neither Spakky nor the plugin."""

import asyncio
import os
from typing import Any

import redis

COUNTER_URL_ENV = "SPAKKY_BENCH_COUNTER_URL"
"""Redis URL of the completion counter that ``tick`` increments."""
COUNTER_KEY_ENV = "SPAKKY_BENCH_COUNTER_KEY"

_counter: tuple[int, Any] | None = None


def tick() -> None:
    """The end-to-end work: count one completed task in Redis."""
    global _counter
    if _counter is None or _counter[0] != os.getpid():
        _counter = (os.getpid(), redis.Redis.from_url(os.environ[COUNTER_URL_ENV]))
    _counter[1].incr(os.environ[COUNTER_KEY_ENV])


def work(a: int, b: str, k: int = 0) -> int:
    """The in-process work: trivial."""
    return a + k + len(b)


async def awork(a: int, b: str, k: int = 0) -> int:
    """The async in-process work: one suspension point."""
    await asyncio.sleep(0)
    return a + k + len(b)
