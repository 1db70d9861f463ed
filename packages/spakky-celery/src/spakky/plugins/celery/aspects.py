"""The dispatch aspects of spakky-celery: the core's, under this plugin's names."""

from spakky.dispatch.core.aspects import AsyncTaskDispatchAspect, TaskDispatchAspect

CeleryTaskDispatchAspect = TaskDispatchAspect
"""Sends calls of sync ``@task`` methods to the broker (inline inside a worker)."""

AsyncCeleryTaskDispatchAspect = AsyncTaskDispatchAspect
"""Sends calls of async ``@task`` methods to the broker (inline inside a worker)."""

__all__ = ["AsyncCeleryTaskDispatchAspect", "CeleryTaskDispatchAspect"]
