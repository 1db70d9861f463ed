"""``fast_context`` builds the same ``TraceContext`` as its constructor."""

import logging
import random
from collections.abc import Iterator
from typing import Any

import pytest
from spakky.tracing import TraceContext

from spakky.dispatch.tracing import fast_context as fast_context_module
from spakky.dispatch.tracing import ids as ids_module
from spakky.dispatch.tracing.fast_context import (
    context_factory,
    context_shape_problem,
    fast_context,
    public_context,
)


@pytest.fixture
def probe() -> Iterator[None]:
    """A fresh probe, warning and factory for the test, and after it."""

    def reset() -> None:
        context_shape_problem.cache_clear()
        fast_context_module._warn.cache_clear()
        ids_module._make = None

    reset()
    yield
    reset()


def test_fast_context_probe_installed_spakky_tracing_expect_no_problem() -> None:
    """The installed ``TraceContext`` is built as copied here.

    Fails after a spakky-tracing update that changed it: re-read its
    ``TraceContext`` and adapt ``fast_context``.
    """
    assert context_shape_problem() is None
    assert context_factory() is fast_context


def _values(draw: random.Random) -> tuple[str, str, str | None, int]:
    parent = None if draw.random() < 0.5 else f"{draw.getrandbits(64):016x}"
    return (
        f"{draw.getrandbits(128):032x}",
        f"{draw.getrandbits(64):016x}",
        parent,
        draw.choice((0, 1, 255)),
    )


def test_fast_context_many_values_expect_same_as_constructor() -> None:
    """Same type, attributes, header, children and immutability as the public path."""
    draw = random.Random(15)
    for _ in range(2000):
        values = _values(draw)
        fast, public = fast_context(*values), public_context(*values)
        assert type(fast) is type(public) is TraceContext
        assert vars(fast) == vars(public)
        assert fast.to_traceparent() == public.to_traceparent()
        assert (fast.child().trace_id, fast.child().parent_span_id) == (
            public.trace_id,
            public.span_id,
        )
    with pytest.raises(AttributeError):
        fast.span_id = "1" * 16  # type: ignore[misc]


@pytest.mark.usefixtures("probe")
def test_new_root_expect_fast_context_when_vouched_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Worker contexts are built by ``fast_context`` once the probe passes."""
    built: list[tuple[object, ...]] = []

    def spy(*values: Any) -> TraceContext:
        built.append(values)
        return fast_context(*values)

    assert context_shape_problem() is None  # probed before the spy is in place
    monkeypatch.setattr(fast_context_module, "fast_context", spy)
    root = ids_module.new_root()
    assert built == [(root.trace_id, root.span_id, None, 1)]


def _post_init(self: TraceContext) -> None:
    return None


def _no_children(self: TraceContext) -> TraceContext:
    raise RuntimeError("no children")


@pytest.mark.usefixtures("probe")
@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("__post_init__", _post_init, "changed: __post_init__"),
        ("__slots__", ("trace_id",), "changed: __slots__"),
        ("child", _no_children, "spakky-tracing changed (RuntimeError"),
        ("__setattr__", object.__setattr__, "changed: frozen"),
    ],
)
def test_fast_context_probe_changed_trace_context_expect_problem(
    monkeypatch: pytest.MonkeyPatch, name: str, value: object, problem: str
) -> None:
    """A ``TraceContext`` built or behaving otherwise fails the check."""
    monkeypatch.setattr(TraceContext, name, value, raising=False)
    found = context_shape_problem()
    assert found is not None
    assert found.startswith(problem)


@pytest.mark.usefixtures("probe")
def test_fast_context_probe_changed_fields_expect_problem(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Other fields fail the check."""
    fields = TraceContext.__dataclass_fields__
    monkeypatch.setattr(
        TraceContext,
        "__dataclass_fields__",
        {name: fields[name] for name in ("span_id", "trace_id", "parent_span_id")},
    )
    assert context_shape_problem() == "changed: fields"


@pytest.mark.usefixtures("probe")
def test_fast_context_probe_fails_expect_constructor_and_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """When the check fails, contexts come from ``TraceContext(...)``, one warning."""
    monkeypatch.setattr(fast_context_module, "context_shape_problem", lambda: "x")
    with caplog.at_level(logging.WARNING, logger=fast_context_module.__name__):
        first, second = ids_module.new_root(), ids_module.new_root()
    assert ids_module._make is public_context
    assert first.trace_id != second.trace_id
    assert caplog.text.count("fast construction") == 1
