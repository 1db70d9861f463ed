"""An async task using a loop-bound resource, for the plugin tests."""

import asyncio

from spakky.core.pod.annotations.pod import Pod
from spakky.task import TaskHandler, task


@Pod()
class LoopBoundPool:
    """Stands for an async connection pool: usable only on the loop that made it."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.uses = 0

    async def use(self) -> int:
        loop = asyncio.get_running_loop()
        if self.loop is None:
            self.loop = loop
        if self.loop is not loop:
            raise RuntimeError("pool used from another event loop")
        self.uses += 1
        return self.uses


@TaskHandler()
class Stock:
    """One async task on a loop-bound pool."""

    def __init__(self, pool: LoopBoundPool) -> None:
        self.pool = pool

    @task
    async def count(self) -> dict[str, int]:
        """Uses the pool; says which loop it ran on."""
        return {"uses": await self.pool.use(), "loop": id(asyncio.get_running_loop())}
