"""The work both sides do, importing neither Spakky nor the plugin."""

import asyncio
import os
from typing import Any

import redis
import redis.asyncio

COUNTER_URL_ENV = "SPAKKY_BENCH_COUNTER_URL"
"""Redis URL of the completion counter that ``tick`` increments."""
COUNTER_KEY_ENV = "SPAKKY_BENCH_COUNTER_KEY"

_counter: tuple[int, Any] | None = None
_acounter: tuple[int, asyncio.AbstractEventLoop, Any] | None = None


def tick() -> None:
    """The end-to-end work: count one completed task in Redis."""
    global _counter
    if _counter is None or _counter[0] != os.getpid():
        _counter = (os.getpid(), redis.Redis.from_url(os.environ[COUNTER_URL_ENV]))
    _counter[1].incr(os.environ[COUNTER_KEY_ENV])


async def atick() -> None:
    """The async end-to-end work: count one completed task, with redis.asyncio.

    One client per process and event loop (an asyncio client belongs to the
    loop it first ran on).
    """
    global _acounter
    loop = asyncio.get_running_loop()
    if _acounter is None or _acounter[:2] != (os.getpid(), loop):
        client = redis.asyncio.Redis.from_url(os.environ[COUNTER_URL_ENV])
        _acounter = (os.getpid(), loop, client)
    await _acounter[2].incr(os.environ[COUNTER_KEY_ENV])


def work(a: int, b: str, k: int = 0) -> int:
    """The in-process work: trivial."""
    return a + k + len(b)


async def awork(a: int, b: str, k: int = 0) -> int:
    """The async in-process work: one suspension point."""
    await asyncio.sleep(0)
    return a + k + len(b)
