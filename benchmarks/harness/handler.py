"""The measured task handler, for every plugin: ours on Celery and taskiq, and
spakky-celery 8.5.0 (``spakky.task`` is the same in both environments)."""

from spakky.task import TaskHandler, task

from benchmarks.harness.work import atick, awork, tick, work


@TaskHandler()
class BenchHandler:
    """The plugins' tasks; the raw apps' plain tasks do the same work."""

    @task
    def work(self, a: int, b: str, k: int = 0) -> int:
        return work(a, b, k)

    @task
    async def awork(self, a: int, b: str, k: int = 0) -> int:
        return await awork(a, b, k)

    @task
    def tick(self) -> None:
        tick()

    @task
    async def atick(self) -> None:
        await atick()
