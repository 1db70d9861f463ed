"""Call-site argument checks: a call that does not bind is refused before sending."""

import asyncio
from functools import wraps
from typing import Any

import pytest
from spakky.task import TaskHandler, task

from spakky.dispatch.core import (
    AbstractSpakkyDispatchError,
    TaskArgumentsError,
    TaskDispatchError,
)
from spakky.dispatch.core.adapter import TaskBinding
from spakky.dispatch.core.arguments import TaskSignature, check_arguments, explain
from spakky.dispatch.core.aspects import AsyncTaskDispatchAspect, TaskDispatchAspect

from .dispatch_core_support import running_app


def passthrough[**P, R](method: Any) -> Any:
    """A user decorator that hides the signature behind ``*args, **kwargs``."""

    @wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return method(*args, **kwargs)

    return wrapper


@TaskHandler()
class Mail:
    """Tasks of every signature shape."""

    @task
    def send(self, to: str, subject: str, body: str) -> str:
        return f"{to}:{subject}:{body}"

    @task
    async def send_async(self, to: str) -> str:
        return to

    @task
    def options(self, a: int, b: int = 1, *, c: int, d: int = 2) -> int:
        return a + b + c + d

    @task
    def variadic(self, a: int, *rest: int, key: str, **extra: object) -> int:
        return a

    @task
    def positional(self, a: int, /, b: int) -> int:
        return a + b

    @task
    def nothing(self) -> None:
        return None

    @task
    @passthrough
    def wrapped(self, to: str) -> str:
        return to

    @staticmethod
    def static(a: int) -> int:
        return a


CALLS: list[tuple[str, tuple[object, ...], dict[str, object]]] = [
    ("send", ("a",), {}),
    ("send", (), {}),
    ("send", ("a", "b", "c", "d"), {}),
    ("send", ("a",), {"subject": "s"}),
    ("send", ("a", "b"), {"to": "x", "body": "y"}),
    ("send", ("a", "b", "c"), {"cc": "x"}),
    ("options", (1, 2, 3), {}),
    ("options", (1,), {}),
    ("options", (), {"c": 1}),
    ("options", (1, 2), {"c": 1, "e": 2}),
    ("variadic", (1,), {}),
    ("positional", (), {"a": 1, "b": 2}),
    ("nothing", (1,), {}),
    ("wrapped", (), {}),
]
"""Calls Python refuses on the methods themselves."""


@pytest.mark.parametrize(("name", "args", "kwargs"), CALLS)
def test_task_signature_bad_call_expect_python_own_message(
    name: str, args: tuple[object, ...], kwargs: dict[str, object]
) -> None:
    """The problem reads exactly as the TypeError Python raises for the same call."""
    with pytest.raises(TypeError) as python:
        getattr(Mail(), name)(*args, **kwargs)
    shape = TaskSignature.of(Mail, name)
    assert shape is not None
    assert shape.problem(args, kwargs) == str(python.value)


@pytest.mark.parametrize(
    ("name", "args", "kwargs"),
    [
        ("send", ("a", "b", "c"), {}),
        ("send", ("a",), {"subject": "s", "body": "b"}),
        ("send", (), {"to": "a", "subject": "s", "body": "b"}),
        ("options", (1,), {"c": 3}),
        ("variadic", (1, 2, 3), {"key": "k", "x": 1}),
        ("positional", (1,), {"b": 2}),
        ("nothing", (), {}),
        ("wrapped", ("a",), {}),
    ],
)
def test_task_signature_good_call_expect_no_problem(
    name: str, args: tuple[object, ...], kwargs: dict[str, object]
) -> None:
    """Calls that bind to the method pass, on the fast path or the full bind."""
    shape = TaskSignature.of(Mail, name)
    assert shape is not None
    assert shape.problem(args, kwargs) is None


def test_task_signature_shapes_expect_self_dropped_and_fast_path_for_plain() -> None:
    """``self`` is not part of what callers pass; plain signatures are flagged."""
    send = TaskSignature.of(Mail, "send")
    options = TaskSignature.of(Mail, "options")
    static = TaskSignature.of(Mail, "static")
    assert send is not None
    assert options is not None
    assert static is not None
    assert list(send.signature.parameters) == ["to", "subject", "body"]
    assert (send.plain, send.required, send.qualname) == (
        ("to", "subject", "body"),
        3,
        "Mail.send",
    )
    assert options.plain is None
    assert list(static.signature.parameters) == ["a"]


def test_task_signature_builtin_without_signature_expect_none() -> None:
    """A callable Python cannot describe is not checked (None)."""

    class Handler:
        run = max  # a builtin without an inspectable signature

    assert TaskSignature.of(Handler, "run") is None


def test_explain_unusual_refusal_expect_none_and_problem_falls_back() -> None:
    """A refusal ``explain`` does not phrase falls back to ``inspect``'s words."""
    shape = TaskSignature.of(Mail, "variadic")
    assert shape is not None
    # passes every structural rule explain knows: explain has nothing to add
    assert explain(shape.signature, "Mail.variadic", (1,), {"key": "k"}) is None


def test_check_arguments_bad_call_expect_type_error_of_dispatch_family() -> None:
    """The refusal is a TypeError and a dispatch error naming method and task."""
    with running_app(Mail) as app:
        binding = app.dispatcher.binding_of(app.get(Mail).send)
        with pytest.raises(TaskArgumentsError) as caught:
            check_arguments(binding, ("a",), {})
    error = caught.value
    assert isinstance(error, TypeError)
    assert isinstance(error, TaskDispatchError)
    assert isinstance(error, AbstractSpakkyDispatchError)
    assert str(error).endswith(
        "Mail.send() missing 2 required positional arguments: 'subject' and "
        f"'body' (task {binding.name})"
    )


def test_check_arguments_binding_without_signature_expect_no_check() -> None:
    """A binding built without a signature (a test double) is not checked."""
    binding = TaskBinding(
        name="t", handler_type=Mail, method_name="send", pod_name="mail", is_async=False
    )
    check_arguments(binding, (), {"anything": 1})


def test_dispatch_bad_call_expect_type_error_and_nothing_sent() -> None:
    """Sync, async and explicit sends refuse a bad call; no message is captured."""
    with running_app(Mail, TaskDispatchAspect, AsyncTaskDispatchAspect) as app:
        handler: Any = app.get(Mail)
        with pytest.raises(TypeError, match=r"Mail\.send\(\) missing 1 required"):
            handler.send("a", "b")
        with pytest.raises(TypeError, match="takes 2 positional arguments but 3"):
            asyncio.run(handler.send_async("a", "b"))
        with pytest.raises(TaskArgumentsError, match="unexpected keyword argument"):
            app.dispatcher.send(handler.send, "a", "b", "c", cc="d")  # type: ignore[call-arg]
        assert app.sender.messages == []
        handler.send("a", "b", "c")
        assert [m.args for m in app.sender.messages] == [("a", "b", "c")]
