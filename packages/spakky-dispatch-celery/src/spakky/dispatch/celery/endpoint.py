"""``CeleryEndpointRegistrar``: one Celery task per registered Spakky task."""

from collections.abc import Mapping
from typing import Any, override

from celery import Celery, Task
from spakky.core.pod.annotations.pod import Pod

from spakky.dispatch.core import (
    ITaskEndpointRegistrar,
    RetryableTaskError,
    TaskBinding,
    TaskInvoker,
)

_NO_HEADERS: Mapping[str, object] = {}


@Pod()
class CeleryEndpointRegistrar(ITaskEndpointRegistrar):
    """Registers worker endpoints on the application's own Celery app.

    Endpoints are never shared tasks, so two applications in one process do
    not see each other's tasks. Each endpoint hands the received arguments and
    headers to the core's ``TaskInvoker``; a ``RetryableTaskError`` becomes a
    Celery retry with the error's delay and retry bound.
    """

    _app: Celery
    _invoker: TaskInvoker

    def __init__(self, app: Celery, invoker: TaskInvoker) -> None:
        self._app = app
        self._invoker = invoker

    @override
    def register(self, binding: TaskBinding) -> None:
        invoke = self._invoker.invoke
        name = binding.name

        def run(task: Task, *args: Any, **kwargs: Any) -> object:
            request = task.request
            try:
                return invoke(
                    name, args, kwargs, request.headers or _NO_HEADERS, request.id
                )
            except RetryableTaskError as error:
                raise task.retry(
                    exc=error, countdown=error.delay, max_retries=error.max_retries
                ) from error

        run.__name__ = binding.method_name
        run.__qualname__ = f"{binding.handler_type.__qualname__}.{binding.method_name}"
        run.__module__ = binding.handler_type.__module__
        run.__doc__ = getattr(binding.handler_type, binding.method_name).__doc__
        self._app.task(name=name, bind=True, shared=False, lazy=False)(run)
