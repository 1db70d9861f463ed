"""The measured handler's protected twin, for the ``tracing + auth`` variants.

Only a ``@protected`` task carries a signed auth snapshot (ours signs nothing
for an unprotected one) and is admitted on the worker (verify, check, seed),
so these variants call it. Imported only when the auth plugin is loaded: an
application without it would not import ``spakky.auth``.
"""

from spakky.auth import protected
from spakky.task import TaskHandler, task

from benchmarks.harness.work import awork, work


@TaskHandler()
class ProtectedBenchHandler:
    """``BenchHandler``'s ``work`` and ``awork``, each for an authenticated caller."""

    @protected
    @task
    def work(self, a: int, b: str, k: int = 0) -> int:
        return work(a, b, k)

    @protected
    @task
    async def awork(self, a: int, b: str, k: int = 0) -> int:
        return await awork(a, b, k)
