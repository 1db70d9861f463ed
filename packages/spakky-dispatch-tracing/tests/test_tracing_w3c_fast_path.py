"""The W3C fast path agrees with the public path on every ``traceparent``.

Property-style: thousands of values built from valid and invalid parts
(versions, ids, flags, lengths, case, all-zero ids, separators, extra fields,
whitespace) and seeded random mutations of a valid value. On each, the fast
path's context is compared with the public path's (the composite of
spakky-tracing's ``W3CTracePropagator``, then ``child()``), and with
spakky-tracing's propagator alone, which is more lenient in exactly two
documented ways: it accepts versions other than ``00`` and strips surrounding
whitespace.
"""

import itertools
import logging
import random
from collections.abc import Iterator
from typing import Any

import pytest
from spakky.tracing import TraceContext, W3CTracePropagator

from spakky.dispatch.tracing import (
    CompositeTracePropagator,
    TraceHeaderPropagator,
    is_valid_trace_context,
    w3c_fast_path,
)
from spakky.dispatch.tracing.w3c_fast_path import (
    child_of,
    uses_w3c_fast_path,
    w3c_shape_problem,
)

from .tracing_fakes import SPAN_ID, TRACE_ID, TRACEPARENT, B3SinglePropagator

_VERSIONS = ["00", "01", "0a", "fe", "ff", "FF", "0", "000", "g0", ""]
_TRACE_IDS = [
    TRACE_ID,
    TRACE_ID.upper(),
    TRACE_ID[:16] + TRACE_ID[16:].upper(),
    "0" * 32,
    "0" * 31 + "1",
    TRACE_ID[:-1],
    TRACE_ID + "a",
    TRACE_ID[:-1] + "g",
    TRACE_ID[:-1] + " ",
    "\u0660" * 32,  # Arabic-Indic zeros: digits, but not hex
]
_SPAN_IDS = [
    SPAN_ID,
    SPAN_ID.upper(),
    "0" * 16,
    "0" * 15 + "1",
    SPAN_ID[:-1],
    SPAN_ID + "0",
    SPAN_ID[:-1] + "x",
]
_FLAGS = ["00", "01", "02", "ff", "0F", "FF", "1", "001", "zz", "", "-1"]
_WRAPPINGS = [
    ("", ""),
    (" ", ""),
    ("", " "),
    ("\t", "\n"),
    ("", "\r\n"),
    ("\x0b", ""),
    ("\u00a0", ""),
    ("", "-"),
    ("", "-extra"),
    ("", "-00"),
    ("x", ""),
]
_ALPHABET = "0123456789abcdefABCDEFxg- \t\n_"


def _traceparents() -> Iterator[str]:
    """Every combination of the parts above, then wrapped and mutated values."""
    for version, trace_id, span_id, flags in itertools.product(
        _VERSIONS, _TRACE_IDS, _SPAN_IDS, _FLAGS
    ):
        yield f"{version}-{trace_id}-{span_id}-{flags}"
    for before, after in _WRAPPINGS:
        for version in ("00", "01", "ff"):
            yield f"{before}{version}-{TRACE_ID}-{SPAN_ID}-01{after}"
    for separator in ("_", "--", "\u2013", ""):
        yield separator.join(("00", TRACE_ID, SPAN_ID, "01"))
    generator = random.Random(20240514)
    for _ in range(3000):
        chars = list(TRACEPARENT)
        for _ in range(generator.randint(1, 3)):
            at = generator.randrange(len(chars))
            action = generator.choice(("replace", "insert", "delete"))
            if action == "replace":
                chars[at] = generator.choice(_ALPHABET)
            elif action == "insert":
                chars.insert(at, generator.choice(_ALPHABET))
            else:
                del chars[at]
        yield "".join(chars)
    for _ in range(500):
        yield "".join(generator.choices(_ALPHABET, k=generator.randint(0, 60)))


def _fields(context: TraceContext | None) -> tuple[str, str, int] | None:
    return (
        None
        if context is None
        else (
            context.trace_id,
            context.span_id,
            context.trace_flags,
        )
    )


def test_w3c_fast_path_many_values_expect_same_as_public_path() -> None:
    """On every value the fast path gives the public path's context.

    Against spakky-tracing's propagator alone: never more lenient, and stricter
    only on versions other than ``00`` and on surrounding whitespace.
    """
    public = CompositeTracePropagator([W3CTracePropagator()])
    spakky = W3CTracePropagator()
    accepted = 0
    stricter: dict[str, int] = {"version": 0, "whitespace": 0}
    values = list(dict.fromkeys(_traceparents()))
    assert len(values) > 9000
    for value in values:
        carrier = {"traceparent": value}
        fast = child_of(value)
        assert is_valid_trace_context(fast), value
        parent = public.extract(carrier)
        if parent is None:
            assert fast.parent_span_id is None, value  # a new root
        else:
            accepted += 1
            reference = parent.child()
            assert (fast.trace_id, fast.parent_span_id, fast.trace_flags) == (
                reference.trace_id,
                reference.parent_span_id,
                reference.trace_flags,
            ), value
            assert fast.span_id not in (parent.span_id, reference.span_id)
        own = _fields(spakky.extract(carrier))
        carried = (
            None
            if fast.parent_span_id is None
            else (fast.trace_id, fast.parent_span_id, fast.trace_flags)
        )
        if own == carried:
            continue
        assert carried is None, value  # never accepts what spakky-tracing refuses
        if value != value.strip():
            stricter["whitespace"] += 1
        else:
            assert value[:2] != "00", value
            stricter["version"] += 1
    assert accepted > 50
    assert stricter["version"] > 50
    assert stricter["whitespace"] > 5


def test_w3c_fast_path_probe_installed_spakky_tracing_expect_no_problem() -> None:
    """The installed spakky-tracing reads and writes ``traceparent`` as copied.

    Fails after a spakky-tracing update that changed it: re-read its
    ``TraceContext`` and ``W3CTracePropagator`` and adapt ``w3c_fast_path``.
    """
    assert w3c_shape_problem() is None
    assert uses_w3c_fast_path([W3CTracePropagator()])


@pytest.fixture
def probe() -> Iterator[None]:
    """A fresh probe and warning for the test, and again after it."""
    w3c_shape_problem.cache_clear()
    w3c_fast_path._warn.cache_clear()
    yield
    w3c_shape_problem.cache_clear()
    w3c_fast_path._warn.cache_clear()


def _version_01(self: TraceContext) -> str:
    return f"01-{self.trace_id}-{self.span_id}-{self.trace_flags:02x}"


def _lenient(self: W3CTracePropagator, carrier: dict[str, str]) -> TraceContext:
    return TraceContext(trace_id=TRACE_ID, span_id=SPAN_ID)


def _raising(self: TraceContext) -> TraceContext:
    raise RuntimeError("no children")


@pytest.mark.usefixtures("probe")
@pytest.mark.parametrize(
    ("owner", "name", "replacement", "problem"),
    [
        (
            TraceContext,
            "to_traceparent",
            _version_01,
            "changed: W3CTracePropagator.inject",
        ),
        (
            W3CTracePropagator,
            "extract",
            _lenient,
            "changed: W3CTracePropagator.extract",
        ),
        (
            TraceContext,
            "child",
            _raising,
            "spakky-tracing changed (RuntimeError: no children)",
        ),
    ],
)
def test_w3c_fast_path_probe_changed_spakky_tracing_expect_problem(
    monkeypatch: pytest.MonkeyPatch,
    owner: type,
    name: str,
    replacement: Any,
    problem: str,
) -> None:
    """Another format written, another reading, or a failure, fails the check."""
    monkeypatch.setattr(owner, name, replacement)
    assert w3c_shape_problem() == problem


@pytest.mark.usefixtures("probe")
def test_w3c_fast_path_probe_fails_expect_public_path_and_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """When the check fails, received headers go through spakky-tracing's propagator."""
    monkeypatch.setattr(w3c_fast_path, "w3c_shape_problem", lambda: "changed: x")
    extracted: list[dict[str, str]] = []
    original = W3CTracePropagator.extract

    def extract(self: W3CTracePropagator, carrier: dict[str, str]) -> Any:
        extracted.append(dict(carrier))
        return original(self, carrier)

    monkeypatch.setattr(W3CTracePropagator, "extract", extract)
    with caplog.at_level(logging.WARNING, logger=w3c_fast_path.__name__):
        propagator = TraceHeaderPropagator([W3CTracePropagator()])
        TraceHeaderPropagator([W3CTracePropagator()])
    context = propagator.context_for({"traceparent": TRACEPARENT})
    assert extracted == [{"traceparent": TRACEPARENT}]
    assert (context.trace_id, context.parent_span_id) == (TRACE_ID, SPAN_ID)
    assert caplog.text.count("W3C fast path") == 1


def test_w3c_fast_path_in_use_expect_propagator_not_called(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With only spakky-tracing's W3C propagator, the fast path reads the header."""
    assert w3c_shape_problem() is None  # checked before the propagator is replaced

    def extract(self: W3CTracePropagator, carrier: dict[str, str]) -> Any:
        raise AssertionError("the fast path should have read the header")

    monkeypatch.setattr(W3CTracePropagator, "extract", extract)
    context = TraceHeaderPropagator([W3CTracePropagator()]).context_for(
        {"traceparent": TRACEPARENT}
    )
    assert (context.trace_id, context.parent_span_id) == (TRACE_ID, SPAN_ID)
    assert not uses_w3c_fast_path([W3CTracePropagator(), B3SinglePropagator()])
    assert not uses_w3c_fast_path([])
