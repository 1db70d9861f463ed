"""The dispatch aspects of spakky-taskiq: the core's, under this plugin's names."""

from spakky.dispatch.core.aspects import AsyncTaskDispatchAspect, TaskDispatchAspect

TaskiqTaskDispatchAspect = TaskDispatchAspect
"""Sends calls of sync ``@task`` methods to the broker (inline inside a worker)."""

AsyncTaskiqTaskDispatchAspect = AsyncTaskDispatchAspect
"""Sends calls of async ``@task`` methods to the broker (inline inside a worker)."""

__all__ = ["AsyncTaskiqTaskDispatchAspect", "TaskiqTaskDispatchAspect"]
