"""``TaskDispatcher``: a ``@task`` call becomes a task message, or runs inline."""

import asyncio
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import partial
from types import MappingProxyType
from typing import override
from uuid import RFC_4122, UUID

import pytest
from spakky.core.pod.annotations.order import Order
from spakky.core.pod.annotations.pod import Pod
from spakky.task import TaskHandler, task

from spakky.dispatch.core import (
    TASK_CONTEXT_KEY,
    DispatchOptions,
    TaskDispatcher,
    TaskExecution,
    TaskNotRegisteredError,
    dispatch_options,
)
from spakky.dispatch.core.adapter import (
    DEFAULT_OPTIONS,
    HeaderPropagation,
    IHeaderPropagator,
    TaskBinding,
    TaskCall,
    TaskMessage,
    TaskRegistry,
    task_name_for,
)
from spakky.dispatch.core.dispatcher import new_task_id
from spakky.dispatch.core.testing import InMemoryTaskResult

from .dispatch_core_support import (
    RecordingAsyncTaskSender,
    in_memory_task_sender,
    running_app,
)

current_tenant: ContextVar[str | None] = ContextVar("current_tenant", default=None)
"""Ambient context carried by ``TenantHeaderPropagator``."""


@Order(1)
@Pod()
class TenantHeaderPropagator(IHeaderPropagator):
    """Carries ``current_tenant`` in the ``x-tenant`` header."""

    @override
    def fields(self) -> frozenset[str]:
        return frozenset({"x-tenant"})

    @override
    def inject(self, carrier: MutableMapping[str, str], call: TaskCall) -> None:
        tenant = current_tenant.get()
        if tenant is not None:
            carrier["x-tenant"] = tenant

    @override
    def restore(
        self, carrier: Mapping[str, str], call: TaskCall
    ) -> AbstractContextManager[None]:
        return self._restore(carrier.get("x-tenant"))

    @contextmanager
    def _restore(self, tenant: str | None) -> Iterator[None]:
        token = current_tenant.set(tenant)
        try:
            yield
        finally:
            current_tenant.reset(token)


@Pod()
class CallRecordingPropagator(IHeaderPropagator):
    """Records the call it is given on each side."""

    def __init__(self) -> None:
        self.seen: list[object] = []

    @override
    def fields(self) -> frozenset[str]:
        return frozenset({"x-call"})

    @override
    def inject(self, carrier: MutableMapping[str, str], call: TaskCall) -> None:
        self.seen.append(call)

    @override
    def restore(
        self, carrier: Mapping[str, str], call: TaskCall
    ) -> AbstractContextManager[None]:
        self.seen.append(("restore", call.task_id, call.args, dict(call.kwargs)))
        return nullcontext()


@TaskHandler()
class MailTasks:
    """Tasks that also dispatch from inside a worker."""

    def __init__(self, dispatcher: TaskDispatcher) -> None:
        self.dispatcher = dispatcher

    @task
    def send(self, to: str, subject: str = "hello") -> str:
        """Send one mail."""
        return f"{to}:{subject}:{current_tenant.get()}"

    @task
    async def send_async(self, to: str) -> str:
        """Send one mail from async code."""
        return f"async:{to}:{current_tenant.get()}"

    @task
    def fan_out(self, to: str) -> tuple[TaskBinding | None, object]:
        """Inside a worker: a nested call routes inline, an explicit send is sent."""
        route = self.dispatcher.route(self.send)
        handle = self.dispatcher.send(self.send, to, subject="from-worker")
        return route, handle.task_id

    def helper(self) -> None:
        """Not a task."""


class UnregisteredTasks:
    """A class the application never registered."""

    def run(self) -> None:
        """Looks like a task, is not one."""


def loose_function() -> None:
    """A function that is not a method at all."""


def test_dispatcher_route_outside_worker_expect_binding_of_method() -> None:
    """Outside a worker a ``@task`` call is routed to its registered binding."""
    with running_app(MailTasks) as app:
        handler = app.get(MailTasks)
        binding = app.dispatcher.route(handler.send)
    assert binding is not None
    assert binding.name == task_name_for(MailTasks, "send")
    assert binding.name == f"{MailTasks.__module__}.MailTasks.send"


def test_dispatcher_route_inside_worker_expect_none() -> None:
    """With the worker marker in the context scope the call runs inline."""
    with running_app(MailTasks) as app:
        handler = app.get(MailTasks)
        binding = app.dispatcher.binding_of(handler.send)
        app.context.set_context_value(
            TASK_CONTEXT_KEY, TaskExecution(task=binding, task_id="t-1")
        )
        try:
            assert app.dispatcher.route(handler.send) is None
        finally:
            app.context.clear_context()
        assert app.dispatcher.route(handler.send) == binding


def test_dispatcher_route_without_application_context_expect_binding() -> None:
    """A dispatcher not (yet) attached to a context always routes to the broker."""
    with running_app(MailTasks) as app:
        handler = app.get(MailTasks)
        dispatcher = TaskDispatcher(
            app.registry, HeaderPropagation(), in_memory_task_sender()
        )
        binding = dispatcher.route(handler.send)
    assert binding is not None
    assert binding.method_name == "send"


@pytest.mark.parametrize(
    ("callable_name", "where"),
    [
        ("unregistered", "UnregisteredTasks.run"),
        ("not_a_task", "MailTasks.helper"),
        ("function", "loose_function"),
        ("partial", "?"),
    ],
)
def test_dispatcher_unregistered_method_expect_error_with_hint(
    callable_name: str, where: str
) -> None:
    """A method that is not a registered task says which one and what to do."""
    with running_app(MailTasks) as app:
        handler = app.get(MailTasks)
        methods: dict[str, Callable[..., object]] = {
            "unregistered": UnregisteredTasks().run,
            "not_a_task": handler.helper,
            "function": loose_function,
            "partial": partial(loose_function),
        }
        method = methods[callable_name]
        with pytest.raises(TaskNotRegisteredError) as caught:
            app.dispatcher.route(method)
    detail = caught.value.detail
    assert detail is not None
    assert detail.startswith(f"{where} is not a registered task")
    assert "@TaskHandler()" in detail


def test_dispatcher_dispatch_expect_message_with_name_args_kwargs_headers() -> None:
    """A dispatched call is one message: name, arguments and propagated headers."""
    with running_app(MailTasks, TenantHeaderPropagator) as app:
        handler = app.get(MailTasks)
        binding = app.dispatcher.binding_of(handler.send)
        token = current_tenant.set("acme")
        try:
            handle = app.dispatcher.dispatch(binding, ("bob",), {"subject": "hi"})
        finally:
            current_tenant.reset(token)
        messages = app.sender.messages
    assert isinstance(handle, InMemoryTaskResult)
    assert len(messages) == 1
    message = messages[0]
    assert message.task_name == task_name_for(MailTasks, "send")
    assert message.args == ("bob",)
    assert dict(message.kwargs) == {"subject": "hi"}
    assert dict(message.headers) == {"x-tenant": "acme"}
    assert message.options == DEFAULT_OPTIONS
    assert handle.task_id == message.task_id


def test_dispatcher_propagators_from_container_expect_used_for_headers() -> None:
    """Propagator pods of the application are composed into the dispatcher's headers."""
    with running_app(MailTasks, TenantHeaderPropagator) as app:
        propagators = list(app.propagation.propagators)
        handler = app.get(MailTasks)
        binding = app.dispatcher.binding_of(handler.send)
        # no ambient tenant: the propagator writes nothing
        app.dispatcher.dispatch(binding, ("bob",), {})
        headers = dict(app.sender.messages[0].headers)
    assert [type(p) for p in propagators] == [TenantHeaderPropagator]
    assert headers == {}


def test_dispatcher_headers_expect_restored_around_task_on_worker() -> None:
    """The caller's ambient context reaches the task through the headers only."""
    with running_app(MailTasks, TenantHeaderPropagator) as app:
        handler = app.get(MailTasks)
        token = current_tenant.set("acme")
        try:
            app.dispatcher.send(handler.send, "bob")
        finally:
            current_tenant.reset(token)
        assert current_tenant.get() is None
        assert app.sender.run_pending(app.invoker.invoke_message) == 1
        assert app.sender.results[0].get() == "bob:hello:acme"
        assert current_tenant.get() is None


def test_dispatcher_message_with_call_options_expect_options_and_own_task_id() -> None:
    """``message`` carries per-call options and an id of its own (a UUID4 string)."""
    eta = datetime(2024, 1, 1, tzinfo=UTC)
    with running_app(MailTasks) as app:
        binding = app.dispatcher.binding_of(app.get(MailTasks).send)
        with dispatch_options(queue="mail", priority=3, eta=eta, expires=60.0):
            message = app.dispatcher.message(binding, ("a",), {})
            again = app.dispatcher.message(binding, ("a",), {})
    options = DispatchOptions(queue="mail", priority=3, eta=eta, expires=60.0)
    assert message.task_id is not None
    assert str(UUID(message.task_id, version=4)) == message.task_id
    assert again.task_id != message.task_id
    assert message == TaskMessage(
        task_name=binding.name,
        args=("a",),
        kwargs={},
        headers={},
        options=options,
        task_id=message.task_id,
    )


def test_dispatcher_propagators_see_call_expect_id_of_the_message_sent() -> None:
    """Propagators see the call with the id, arguments and options that are sent."""
    with running_app(MailTasks, CallRecordingPropagator) as app:
        handler = app.get(MailTasks)
        with dispatch_options(countdown=5.0):
            handle = app.dispatcher.send(handler.send, "bob", subject="s")
        app.sender.run_pending(app.invoker.invoke_message)
        seen = app.get(CallRecordingPropagator).seen
        binding = app.dispatcher.binding_of(handler.send)
    injected, restored = seen
    assert injected == TaskCall(
        task=binding,
        task_id=handle.task_id,
        args=("bob",),
        kwargs={"subject": "s"},
        options=DispatchOptions(countdown=5.0),
    )
    assert restored == ("restore", handle.task_id, ("bob",), {"subject": "s"})


def test_task_message_defaults_expect_empty_read_only_mappings() -> None:
    """A bare message has no arguments, read-only empty mappings, default options."""
    message = TaskMessage(task_name="t")
    assert (message.args, dict(message.kwargs), dict(message.headers)) == ((), {}, {})
    assert isinstance(message.kwargs, MappingProxyType)
    assert isinstance(message.headers, MappingProxyType)
    assert message.options is DEFAULT_OPTIONS
    assert DispatchOptions() == DEFAULT_OPTIONS
    assert (DEFAULT_OPTIONS.queue, DEFAULT_OPTIONS.countdown) == (None, None)


def test_dispatcher_send_expect_positional_and_keyword_arguments_kept() -> None:
    """``send(method, *args, **kwargs)`` keeps the call's arguments apart."""
    with running_app(MailTasks) as app:
        handle = app.dispatcher.send(app.get(MailTasks).send, "bob", subject="s")
        message = app.sender.messages[0]
    assert (message.args, dict(message.kwargs)) == (("bob",), {"subject": "s"})
    assert handle.task_id == message.task_id


def test_dispatcher_inside_worker_expect_route_inline_but_send_dispatches() -> None:
    """In a task, nested ``@task`` calls run inline; ``send`` still goes out."""
    with running_app(MailTasks) as app:
        app.dispatcher.send(app.get(MailTasks).fan_out, "ann")
        assert app.sender.run_pending(app.invoker.invoke_message) == 2
        fan_out, nested = app.sender.results
        route, nested_id = fan_out.get()
        assert route is None
        assert nested_id == nested.task_id
        assert nested.message.task_name == task_name_for(MailTasks, "send")
        assert nested.message.args == ("ann",)
        assert nested.get() == "ann:from-worker:None"
        # back outside the worker: the caller routes to the broker again
        assert app.dispatcher.route(app.get(MailTasks).send) is not None


def test_dispatcher_dispatch_async_with_async_sender_expect_async_sender_used() -> None:
    """From async code an ``IAsyncTaskSender`` is preferred when one is registered."""
    with running_app(
        MailTasks, RecordingAsyncTaskSender, TenantHeaderPropagator
    ) as app:
        binding = app.dispatcher.binding_of(app.get(MailTasks).send_async)

        async def call() -> object:
            current_tenant.set("acme")
            handle = await app.dispatcher.dispatch_async(binding, ("bob",), {})
            return handle.task_id

        task_id = asyncio.run(call())
        async_sent = app.get(RecordingAsyncTaskSender).sent.messages
        assert app.sender.messages == []
    assert len(async_sent) == 1
    assert async_sent[0].task_id == task_id
    assert async_sent[0].task_name == binding.name
    assert async_sent[0].args == ("bob",)
    assert dict(async_sent[0].headers) == {"x-tenant": "acme"}


def test_dispatcher_dispatch_async_without_async_sender_expect_sync_sender() -> None:
    """Without an async sender the sync sender carries the message."""
    with running_app(MailTasks) as app:
        binding = app.dispatcher.binding_of(app.get(MailTasks).send_async)
        handle = asyncio.run(app.dispatcher.dispatch_async(binding, ("bob",), {}))
        messages = app.sender.messages
    assert [m.task_id for m in messages] == [handle.task_id]
    assert messages[0].task_name == task_name_for(MailTasks, "send_async")


def test_dispatcher_async_task_round_trip_expect_result_on_handle() -> None:
    """An async task sent from async code runs on the worker and settles its handle."""
    with running_app(MailTasks, TenantHeaderPropagator) as app:
        binding = app.dispatcher.binding_of(app.get(MailTasks).send_async)

        async def call() -> object:
            current_tenant.set("acme")
            handle = await app.dispatcher.dispatch_async(binding, ("bob",), {})
            assert isinstance(handle, InMemoryTaskResult)
            app.sender.run_pending(app.invoker.invoke_message)
            return await handle.get_async(timeout=5)

        assert asyncio.run(call()) == "async:bob:acme"


def test_dispatcher_registry_shared_expect_same_registry_as_registrar() -> None:
    """The dispatcher resolves bindings from the registrar's registry."""
    with running_app(MailTasks) as app:
        assert app.registrar.registry is app.get(TaskRegistry)
        assert len(app.registry) == 3


def test_new_task_id_expect_distinct_version_4_uuid_strings() -> None:
    """Ids are canonical version-4 UUID strings (RFC 4122 variant), never repeated."""
    ids = {new_task_id() for _ in range(2000)}
    assert len(ids) == 2000
    for text in list(ids)[:200]:
        parsed = UUID(text)
        assert (str(parsed), parsed.version, parsed.variant) == (
            text,
            4,
            RFC_4122,
        )


class TwoTasks:
    """A handler class registered by hand."""

    def run(self) -> None:
        """One task."""

    def check(self) -> None:
        """Another."""


class CountingRegistry(TaskRegistry):
    """Counts the lookups by method."""

    def __init__(self) -> None:
        super().__init__()
        self.lookups = 0

    @override
    def for_method(
        self, handler_type: type[object], method_name: str
    ) -> TaskBinding | None:
        self.lookups += 1
        return super().for_method(handler_type, method_name)


def _bindings(*, singleton: bool) -> tuple[CountingRegistry, TaskDispatcher]:
    registry = CountingRegistry()
    for name in ("run", "check"):
        registry.add(
            TaskBinding(
                name=task_name_for(TwoTasks, name),
                handler_type=TwoTasks,
                method_name=name,
                pod_name="tasks",
                singleton=singleton,
                is_async=False,
            )
        )
    dispatcher = TaskDispatcher(registry, HeaderPropagation(), in_memory_task_sender())
    return registry, dispatcher


def test_dispatcher_binding_of_same_method_expect_looked_up_once() -> None:
    """A singleton handler's method object is looked up once; another object
    of the same method is looked up again."""
    registry, dispatcher = _bindings(singleton=True)
    handler = TwoTasks()
    method = handler.run
    first = dispatcher.binding_of(method)
    assert dispatcher.binding_of(method) is first
    assert registry.lookups == 1
    assert dispatcher.binding_of(TwoTasks().run) is first
    assert registry.lookups == 2


def test_dispatcher_binding_of_prototype_handler_expect_not_kept() -> None:
    """A handler that is not a singleton is looked up on every call."""
    registry, dispatcher = _bindings(singleton=False)
    method = TwoTasks().run
    dispatcher.binding_of(method)
    dispatcher.binding_of(method)
    assert registry.lookups == 2


def test_dispatcher_binding_of_many_methods_expect_cache_starts_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The kept bindings are bounded: a full cache starts over."""
    monkeypatch.setattr("spakky.dispatch.core.dispatcher._MAX_BOUND", 1)
    registry, dispatcher = _bindings(singleton=True)
    handler = TwoTasks()
    run, check = handler.run, handler.check
    for method in (run, check, check, run):
        dispatcher.binding_of(method)
    assert registry.lookups == 3
