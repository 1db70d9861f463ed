"""``HeaderLimits``: a sender declares them, the dispatcher enforces them once."""

from collections.abc import MutableMapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any, override

import pytest
from spakky.core.pod.annotations.pod import Pod
from spakky.task import TaskHandler, task

from spakky.dispatch.core import TaskDispatcher
from spakky.dispatch.core.adapter import (
    NO_HEADER_LIMITS,
    HeaderBudgetExceededError,
    HeaderLimits,
    IAsyncTaskSender,
    IHeaderPropagator,
    ITaskSender,
    ITaskSenderDecorator,
    ReservedHeaderError,
    TaskCall,
    TaskMessage,
    TaskRegistrar,
)
from spakky.dispatch.core.testing import InMemoryTaskResult, InMemoryTaskSender

from .dispatch_core_support import (
    CORE_PODS,
    RecordingEndpointRegistrar,
    RecordingScheduleRegistrar,
    running_app,
)

OUTGOING: dict[str, str] = {}
"""What ``LoudPropagator`` writes into the next message."""


@TaskHandler()
class Mail:
    @task
    def send(self, to: str) -> str:
        return to


@Pod()
class LoudPropagator(IHeaderPropagator):
    """Writes whatever ``OUTGOING`` holds."""

    @override
    def fields(self) -> frozenset[str]:
        return frozenset({"task", "x-limited.id", "x-big", "x-small"})

    @override
    def inject(self, carrier: MutableMapping[str, str], call: TaskCall) -> None:
        carrier.update(OUTGOING)

    @override
    def restore(self, carrier: Any, call: TaskCall) -> AbstractContextManager[None]:
        return nullcontext()


LIMITS = HeaderLimits(
    reserved=frozenset({"task"}),
    reserved_prefixes=("x-limited.",),
    max_bytes=40,
    budget_setting="EXAMPLE__MAX_HEADER_BYTES",
)


@Pod()
class LimitedSender(InMemoryTaskSender):
    """An in-memory transport that declares limits."""

    @property
    @override
    def header_limits(self) -> HeaderLimits:
        return LIMITS


@pytest.fixture
def outgoing() -> Any:
    OUTGOING.clear()
    yield OUTGOING
    OUTGOING.clear()


def _limited_app(*pods: Any) -> Any:
    from spakky.core.application.application import SpakkyApplication
    from spakky.core.application.application_context import ApplicationContext

    app = SpakkyApplication(ApplicationContext())
    for pod in (
        *CORE_PODS,
        RecordingEndpointRegistrar,
        RecordingScheduleRegistrar,
        LimitedSender,
        LoudPropagator,
        Mail,
        *pods,
    ):
        app.add(pod)
    app.start()
    app.container.get(TaskRegistrar).register_container(app.application_context)
    return app


def _send(app: Any, to: str) -> Any:
    dispatcher = app.container.get(TaskDispatcher)
    return dispatcher.send(app.container.get(Mail).send, to)


def test_limits_reserved_name_and_prefix_expect_error_naming_each() -> None:
    """Reserved names and prefixed names are refused, all of them named."""
    with pytest.raises(ReservedHeaderError) as raised:
        LIMITS.check("m.C.t", {"task": "x", "x-limited.id": "1", "ok": "2"})
    assert str(raised.value).endswith("m.C.t: ['task', 'x-limited.id']")
    assert "reserves" in str(raised.value)
    LIMITS.check("m.C.t", {"ok": "1"})


def test_limits_over_budget_expect_error_naming_largest_and_setting() -> None:
    """Bytes of names and values count; the three largest and the setting are named."""
    LIMITS.check("m.C.t", {"a": "b" * 38})  # 39 bytes: within
    with pytest.raises(HeaderBudgetExceededError) as raised:
        LIMITS.check("m.C.t", {"x-big": "é" * 20, "s": "1", "t": "2", "u": "3"})
    text = str(raised.value)
    assert "m.C.t: 51 bytes of headers, budget 40" in text
    assert "(largest: 'x-big' 45 B, 's' 2 B, 't' 2 B)" in text
    assert text.endswith("raise it with EXAMPLE__MAX_HEADER_BYTES")


def test_limits_default_expect_anything_carried() -> None:
    """No limits: any name, any size."""
    NO_HEADER_LIMITS.check("m.C.t", {"task": "x" * 100_000})
    assert InMemoryTaskSender().header_limits is NO_HEADER_LIMITS


def test_dispatcher_reserved_header_expect_refused_before_sending(
    outgoing: dict[str, str],
) -> None:
    """A header the transport reserves fails the call; the sender never sees it."""
    app = _limited_app()
    try:
        outgoing["task"] = "forged"
        with pytest.raises(ReservedHeaderError, match=r"Mail\.send: \['task'\]"):
            _send(app, "a")
        outgoing.clear()
        outgoing["x-small"] = "1"
        assert isinstance(_send(app, "b"), InMemoryTaskResult)
        sent = app.container.get(LimitedSender).messages
        assert [m.args for m in sent] == [("b",)]
    finally:
        app.stop()


def test_dispatcher_over_budget_expect_refused_before_sending(
    outgoing: dict[str, str],
) -> None:
    """Headers over the transport's budget fail the call; nothing is sent."""
    app = _limited_app()
    try:
        outgoing["x-big"] = "b" * 60
        with pytest.raises(HeaderBudgetExceededError, match="EXAMPLE__MAX_HEADER"):
            _send(app, "a")
        assert app.container.get(LimitedSender).messages == []
    finally:
        app.stop()


def test_dispatcher_capture_expect_transport_limits_still_apply(
    outgoing: dict[str, str],
) -> None:
    """``sending_to`` swaps the sender, not the limits of the transport."""
    app = _limited_app()
    try:
        dispatcher = app.container.get(TaskDispatcher)
        with dispatcher.sending_to(InMemoryTaskSender()) as captured:
            outgoing["task"] = "forged"
            with pytest.raises(ReservedHeaderError):
                _send(app, "a")
        assert isinstance(captured, InMemoryTaskSender)
        assert captured.messages == []
    finally:
        app.stop()


class Unlimited(ITaskSender):
    """A wrapper that declares no limits of its own."""

    def __init__(self, inner: ITaskSender) -> None:
        self.inner = inner

    @override
    def send(self, message: TaskMessage) -> Any:
        return self.inner.send(message)


@Pod()
class UnlimitedDecorator(ITaskSenderDecorator):
    """Wraps the transport in ``Unlimited``."""

    @override
    def decorate(
        self, sender: ITaskSender, async_sender: IAsyncTaskSender | None
    ) -> tuple[ITaskSender, IAsyncTaskSender | None]:
        return Unlimited(sender), None


def test_dispatcher_decorated_expect_transport_limits_checked_first(
    outgoing: dict[str, str],
) -> None:
    """A decorator's sender (an outbox) gets only what the transport can carry."""
    app = _limited_app(UnlimitedDecorator)
    try:
        outgoing["x-limited.id"] = "1"
        with pytest.raises(ReservedHeaderError):
            _send(app, "a")
        assert app.container.get(LimitedSender).messages == []
    finally:
        app.stop()


def test_running_app_without_limits_expect_reserved_names_pass(
    outgoing: dict[str, str],
) -> None:
    """The in-memory transport reserves nothing: the same header goes through."""
    with running_app(Mail, LoudPropagator) as app:
        outgoing["task"] = "mine"
        app.dispatcher.send(app.get(Mail).send, "a")
        assert app.sender.messages[0].headers == {"task": "mine"}
