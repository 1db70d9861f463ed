"""``TraceScope`` through spakky-tracing's variable agrees with the public path."""

import logging
from collections.abc import Iterator
from contextvars import ContextVar, copy_context
from typing import Any

import pytest
import spakky.tracing.context as tracing_context
from spakky.tracing import TraceContext

from spakky.dispatch.tracing import TraceScope, context_var
from spakky.dispatch.tracing import propagator as propagator_module
from spakky.dispatch.tracing.context_var import trace_var, trace_var_problem

from .tracing_fakes import SPAN_ID, TRACE_ID

OUTER = TraceContext(trace_id=TRACE_ID, span_id=SPAN_ID)
INNER = OUTER.child()


@pytest.fixture
def probe() -> Iterator[None]:
    """A fresh probe, warning and scope variable for the test, and after it."""

    def reset() -> None:
        trace_var_problem.cache_clear()
        context_var._warn.cache_clear()
        propagator_module._trace_var = propagator_module._UNRESOLVED

    reset()
    yield
    reset()


def test_trace_var_probe_installed_spakky_tracing_expect_no_problem() -> None:
    """The installed spakky-tracing keeps the context in the variable read here.

    Fails after a spakky-tracing update that changed it: re-read
    ``spakky.tracing.context`` and adapt ``context_var``.
    """
    assert trace_var_problem() is None
    assert trace_var() is tracing_context._trace_context


def _observed() -> list[object]:
    """What ``TraceContext.get`` shows through nested scopes, also on errors."""
    seen: list[object] = [TraceContext.get()]
    with TraceScope(OUTER):
        seen.append(TraceContext.get())
        try:
            with TraceScope(INNER):
                seen.append(TraceContext.get())
                raise KeyError("inside")
        except KeyError:
            seen.append(TraceContext.get())
    seen.append(TraceContext.get())
    TraceContext.set(INNER)
    with TraceScope(OUTER):
        seen.append(TraceContext.get())
    seen.append(TraceContext.get())
    return seen


@pytest.mark.usefixtures("probe")
def test_trace_scope_variable_and_public_path_expect_same_contexts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both paths make the same contexts current and restore the same ones."""
    fast = copy_context().run(_observed)
    assert isinstance(propagator_module._trace_var, ContextVar)
    calls: list[str] = []
    original = TraceContext.get.__func__  # type: ignore[attr-defined]

    def get(cls: type[TraceContext]) -> Any:
        calls.append("get")
        return original(cls)

    monkeypatch.setattr(propagator_module, "_trace_var", None)
    monkeypatch.setattr(TraceContext, "get", classmethod(get))
    public = copy_context().run(_observed)
    assert fast == public == [None, OUTER, INNER, OUTER, None, OUTER, INNER]
    assert calls  # the public path did read through TraceContext.get


_ELSEWHERE: ContextVar[TraceContext | None] = ContextVar("elsewhere", default=None)


def _set_elsewhere(cls: type[TraceContext], context: TraceContext) -> None:
    _ELSEWHERE.set(context)


def _get_elsewhere(cls: type[TraceContext]) -> TraceContext | None:
    return _ELSEWHERE.get()


def _clear_nothing(cls: type[TraceContext]) -> None:
    return None


@pytest.mark.usefixtures("probe")
@pytest.mark.parametrize(
    ("method", "replacement", "problem"),
    [
        ("set", _set_elsewhere, "changed: TraceContext.set"),
        ("get", _get_elsewhere, "changed: TraceContext.get"),
        ("clear", _clear_nothing, "changed: TraceContext.clear"),
    ],
)
def test_trace_var_probe_methods_changed_expect_problem(
    monkeypatch: pytest.MonkeyPatch, method: str, replacement: Any, problem: str
) -> None:
    """``TraceContext`` keeping its context elsewhere fails the check."""
    monkeypatch.setattr(TraceContext, method, classmethod(replacement))
    assert trace_var_problem() == problem


@pytest.mark.usefixtures("probe")
@pytest.mark.parametrize(
    ("replacement", "problem"),
    [
        (ContextVar("set", default=OUTER), "changed: default"),
        ("not a variable", "spakky.tracing.context._trace_context is not a ContextVar"),
        (ContextVar("no default"), "spakky-tracing changed (LookupError: "),
    ],
)
def test_trace_var_probe_variable_changed_expect_problem(
    monkeypatch: pytest.MonkeyPatch, replacement: object, problem: str
) -> None:
    """Another default, no variable, or one that fails, fails the check."""
    monkeypatch.setattr(tracing_context, "_trace_context", replacement)
    found = trace_var_problem()
    assert found is not None
    assert found.startswith(problem)


@pytest.mark.usefixtures("probe")
def test_trace_var_probe_fails_expect_public_path_and_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """When the check fails, scopes go through TraceContext, with one warning."""
    monkeypatch.setattr(context_var, "trace_var_problem", lambda: "changed: x")
    with caplog.at_level(logging.WARNING, logger=context_var.__name__):
        seen = copy_context().run(_observed)
        copy_context().run(_observed)
    assert propagator_module._trace_var is None
    assert seen == [None, OUTER, INNER, OUTER, None, OUTER, INNER]
    assert caplog.text.count("written for") == 1
