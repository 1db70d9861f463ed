"""``TaskiqEndpointRegistrar``: one taskiq task per registered Spakky task.

Every endpoint is an async taskiq task on the application's own broker. It
reads this adapter's control labels, waits for a countdown or retry delay,
and hands the message to the core's ``TaskInvoker``: async methods are awaited
on the worker's own event loop (taskiq's, long-lived: loop-bound resources a
task makes stay usable by the next; the broker lives there too, so an awaited
dispatch from a task reaches it directly), sync methods run in the worker
loop's thread pool, where they may make blocking calls
(``TaskDispatcher.send``, ``get()``). A sync send from an async task cannot
block the loop the broker needs: its publish is started on the loop and
awaited before the task counts as done (a failed one fails the task); a
blocking ``get()`` there is refused (``BrokerLoopBlockedError``).
"""

import asyncio
import inspect
import time
from collections.abc import Mapping
from functools import partial
from logging import getLogger
from typing import Annotated, Any, override

from pydantic_core import to_jsonable_python
from spakky.core.pod.annotations.pod import Pod
from taskiq import Context, TaskiqDepends, TaskiqMessage, TaskiqMiddleware, TaskiqResult
from taskiq.exceptions import NoResultError

from spakky.dispatch.core.adapter import (
    ITaskEndpointRegistrar,
    RetryableTaskError,
    TaskBinding,
    TaskInvoker,
    named_after,
    printable,
    refuse_foreign_task,
)
from spakky.dispatch.taskiq.error import (
    TaskArgumentsMismatchError,
    TaskExpiredError,
    TaskResultNotSerializableError,
)
from spakky.dispatch.taskiq.logs import install_log_filters
from spakky.dispatch.taskiq.loop import DEFERRED_SENDS, BrokerLoop, settle_sends
from spakky.dispatch.taskiq.message import (
    Control,
    publish,
    refuse_unsupported,
    retry_message,
)

logger = getLogger(__name__)

ENDPOINT_MARK = "__spakky_taskiq_endpoint__"
"""Attribute set on every function this registrar registers with a broker."""

_NO_CONTROL = Control()
"""The control of a message without labels: run now, no retries yet."""

CONTEXT_PARAMETER = "_spakky_taskiq_context"
"""Keyword parameter of every endpoint that taskiq fills with its ``Context``;
no message may carry a keyword argument of that name."""


class TaskiqEndpoint:
    """Runs one received message of one task through the core's invoker."""

    _binding: TaskBinding
    _invoker: TaskInvoker
    _loop: BrokerLoop
    _signature: inspect.Signature
    _leading: tuple[object, ...]
    _plain: "_PlainParameters | None"

    def __init__(
        self, binding: TaskBinding, invoker: TaskInvoker, loop: BrokerLoop
    ) -> None:
        self._binding = binding
        self._invoker = invoker
        self._loop = loop
        method = getattr(binding.handler_type, binding.method_name)
        self._signature = inspect.signature(method)
        self._leading = () if inspect.ismethod(method) else (None,)  # self
        self._plain = _PlainParameters.of(self._signature, len(self._leading))

    async def __call__(
        self, args: tuple[object, ...], kwargs: Mapping[str, object], context: Context
    ) -> object:
        """Run the task of ``context.message``; its value is the task's result.

        Raises:
            TaskArgumentsMismatchError: The message's arguments do not fit the
                method's parameters.
            TaskExpiredError: The message arrived after its ``expires`` time.
            NoResultError: Nothing is to be stored (a retry was queued, or the
                message asks for no result).
        """
        message = context.message
        self._check_arguments(args, kwargs)
        labels = message.labels
        control = Control.of(labels) if labels else _NO_CONTROL
        self._check_expiry(message, control)
        if control.eta is not None and (wait := control.eta - time.time()) > 0:
            await asyncio.sleep(wait)
            self._check_expiry(message, control)
        try:
            value = await self._invoke(args, kwargs, message, control.retries)
        except RetryableTaskError as error:
            await self._retry(message, control.retries, error)
            raise NoResultError() from error
        if control.ignore_result:
            raise NoResultError()
        try:
            to_jsonable_python(value)
        except Exception as error:
            raise TaskResultNotSerializableError(
                f"{self._binding.name} returned {type(value).__name__} ({error})"
            ) from error
        return value

    async def _invoke(
        self,
        args: tuple[object, ...],
        kwargs: Mapping[str, object],
        message: TaskiqMessage,
        retries: int,
    ) -> object:
        call = (
            self._binding.name,
            args,
            kwargs,
            message.labels,
            message.task_id,
            retries,
        )
        if self._binding.is_async:
            sends: list[asyncio.Task[Any]] = []
            collecting = DEFERRED_SENDS.set(sends)
            try:
                value = await self._invoker.invoke_async(*call)
            finally:
                DEFERRED_SENDS.reset(collecting)
                failed = await settle_sends(sends) if sends else None
            if failed is not None:
                raise failed
            return value
        running = asyncio.get_running_loop()
        return await running.run_in_executor(None, partial(self._invoker.invoke, *call))

    async def _retry(
        self, message: TaskiqMessage, retries: int, error: RetryableTaskError
    ) -> None:
        """Queue the next attempt, or fail the task when retries are used up."""
        if retries >= error.max_retries:
            final = error.final_error or error
            if final is error:
                raise error
            raise final from error
        logger.info(
            "%s[%s] retry %d/%d in %.2fs: %s",
            printable(message.task_name),
            printable(message.task_id),
            retries + 1,
            error.max_retries,
            error.delay,
            error,
        )
        again = retry_message(message, retries + 1, error.delay)
        await self._loop.call(
            partial(publish, message=again, timeout=self._loop.timeout)
        )

    def _check_arguments(
        self, args: tuple[object, ...], kwargs: Mapping[str, object]
    ) -> None:
        """Refuse arguments the method cannot take, naming counts, not names.

        Python's own ``TypeError`` would quote a keyword name taken from the
        message into the worker's log.
        """
        plain = self._plain
        if plain is not None and plain.fit(args, kwargs):
            return
        try:
            self._signature.bind(*self._leading, *args, **kwargs)
        except TypeError:
            raise TaskArgumentsMismatchError(
                f"{self._binding.name} got {len(args)} positional and "
                f"{len(kwargs)} keyword argument(s)"
            ) from None

    def _check_expiry(self, message: TaskiqMessage, control: Control) -> None:
        if control.expires is not None and time.time() >= control.expires:
            raise TaskExpiredError(
                f"{printable(message.task_name)}[{printable(message.task_id)}]"
            )


class _PlainParameters:
    """A quick yes for a method whose parameters are all plain
    (positional-or-keyword): ``fit`` says whether arguments bind without
    building a ``BoundArguments``. A no is checked again by ``Signature.bind``,
    which gives the error."""

    __slots__ = ("names", "required")

    names: tuple[str, ...]
    required: frozenset[str]

    def __init__(self, names: tuple[str, ...], required: frozenset[str]) -> None:
        self.names = names
        self.required = required

    @classmethod
    def of(
        cls, signature: inspect.Signature, leading: int
    ) -> "_PlainParameters | None":
        parameters = list(signature.parameters.values())[leading:]
        if any(p.kind is not p.POSITIONAL_OR_KEYWORD for p in parameters):
            return None
        names = tuple(p.name for p in parameters)
        required = frozenset(p.name for p in parameters if p.default is p.empty)
        return cls(names, required)

    def fit(self, args: tuple[object, ...], kwargs: Mapping[str, object]) -> bool:
        names = self.names
        if len(args) > len(names):
            return False
        rest = names[len(args) :]
        if not kwargs:
            return self.required.isdisjoint(rest)
        return all(name in rest for name in kwargs) and all(
            name in kwargs for name in rest if name in self.required
        )


class StoredLabelsMiddleware(TaskiqMiddleware):
    """Keeps our tasks' labels out of the result backend.

    taskiq stores a message's labels with its result; for our tasks those are
    the propagation headers (a signed auth snapshot among them), which have no
    business outliving the task in a second store.
    """

    @override
    def post_execute(self, message: TaskiqMessage, result: TaskiqResult[Any]) -> None:
        task = self.broker.find_task(message.task_name)
        if task is not None and getattr(task.original_func, ENDPOINT_MARK, False):
            result.labels = {}


@Pod()
class TaskiqEndpointRegistrar(ITaskEndpointRegistrar):
    """Registers worker endpoints on the application's own taskiq broker.

    Endpoints are registered on the broker itself, never as shared tasks, so
    two applications in one process do not see each other's tasks.
    """

    _loop: BrokerLoop
    _invoker: TaskInvoker

    def __init__(self, loop: BrokerLoop, invoker: TaskInvoker) -> None:
        self._loop = loop
        self._invoker = invoker
        install_log_filters()
        broker = loop.broker
        if not any(isinstance(m, StoredLabelsMiddleware) for m in broker.middlewares):
            broker.add_middlewares(StoredLabelsMiddleware())

    @override
    def register(self, binding: TaskBinding) -> None:
        """Register ``binding``'s endpoint on the broker.

        Raises:
            UnsupportedDispatchOptionError: ``@task_options`` declares an option
                this transport cannot honour (refused at startup, not per call).
            DuplicateTaskNameError: The broker has a task of that name already
                that this registrar did not register.
        """
        refuse_unsupported(binding.name, binding.options)
        broker = self._loop.broker
        existing = broker.local_task_registry.get(binding.name)
        ours = getattr(getattr(existing, "original_func", None), ENDPOINT_MARK, False)
        refuse_foreign_task(binding, existing, ours=ours, registry="taskiq broker")
        endpoint = TaskiqEndpoint(binding, self._invoker, self._loop)

        async def run(
            *args: Any,
            _spakky_taskiq_context: Annotated[Context, TaskiqDepends()],
            **kwargs: Any,
        ) -> object:
            return await endpoint(args, kwargs, _spakky_taskiq_context)

        # taskiq's receiver would validate every positional argument against
        # ``Any`` (a pydantic round per argument that changes nothing); the
        # endpoint checks the arguments against the method itself.
        del run.__annotations__["args"]
        setattr(run, ENDPOINT_MARK, True)
        broker.register_task(named_after(binding, run), task_name=binding.name)
