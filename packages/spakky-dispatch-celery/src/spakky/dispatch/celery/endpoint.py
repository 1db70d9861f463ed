"""``CeleryEndpointRegistrar``: one Celery task per registered Spakky task."""

from collections.abc import Mapping
from typing import Any, override

from celery import Celery, Task
from spakky.core.pod.annotations.pod import Pod

from spakky.dispatch.celery.logs import install_rejection_log_filter
from spakky.dispatch.celery.worker_keys import CELERY_CONSUMER, GUARDED_CONSUMER
from spakky.dispatch.core.adapter import (
    ITaskEndpointRegistrar,
    RetryableTaskError,
    TaskBinding,
    TaskInvoker,
    TaskRefusedError,
    named_after,
    refuse_foreign_task,
)

_NO_HEADERS: Mapping[str, object] = {}


class SpakkyEndpointTask(Task[Any, Any]):
    """Base class of every endpoint spakky-celery registers on a Celery app.

    A ``TaskRefusedError`` (an auth refusal, say) is one of Celery's expected
    errors (``throws``): the task fails with it, and the worker logs one line
    at INFO level instead of an error with a traceback.
    """

    abstract = True
    throws = (TaskRefusedError,)


@Pod()
class CeleryEndpointRegistrar(ITaskEndpointRegistrar):
    """Registers worker endpoints on the application's own Celery app.

    Endpoints are never shared tasks, so two applications in one process do
    not see each other's tasks. Each endpoint hands the received arguments and
    headers to the core's ``TaskInvoker``; a ``RetryableTaskError`` becomes a
    Celery retry with the error's delay and retry bound. Headers that are not a
    mapping (a foreign producer's ``headers`` field) are treated as absent.

    Creating it also hardens the app's workers against bad messages: a
    malformed message is rejected instead of stopping the worker
    (``GuardedConsumer``, unless the app names its own ``worker_consumer``),
    and rejection lines (unknown task names, undecodable messages) are short
    and free of message contents.
    """

    _app: Celery
    _invoker: TaskInvoker

    def __init__(self, app: Celery, invoker: TaskInvoker) -> None:
        self._app = app
        self._invoker = invoker
        if app.conf.worker_consumer in (None, CELERY_CONSUMER):
            app.conf.worker_consumer = GUARDED_CONSUMER
        install_rejection_log_filter()

    @override
    def register(self, binding: TaskBinding) -> None:
        invoke = self._invoker.invoke
        name = binding.name

        def run(task: Task[Any, Any], *args: Any, **kwargs: Any) -> object:
            request = task.request
            received = request.headers
            headers: Mapping[str, object] = (
                received
                if type(received) is dict or isinstance(received, Mapping)
                else _NO_HEADERS
            )
            try:
                return invoke(name, args, kwargs, headers, request.id, request.retries)
            except RetryableTaskError as error:
                raise task.retry(
                    exc=error.final_error or error,
                    countdown=error.delay,
                    max_retries=error.max_retries,
                ) from error

        existing = self._app.tasks.get(name)
        ours = isinstance(existing, SpakkyEndpointTask)
        refuse_foreign_task(binding, existing, ours=ours, registry="Celery app")
        if ours:  # the same Celery app now serves a newer application
            self._app.tasks.unregister(name)
        self._app.task(
            name=name,
            bind=True,
            base=SpakkyEndpointTask,
            shared=False,
            lazy=False,
        )(named_after(binding, run))
