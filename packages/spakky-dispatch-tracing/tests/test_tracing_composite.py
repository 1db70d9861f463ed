"""``CompositeTracePropagator``: order, header ownership, failure isolation."""

import logging
from collections.abc import Iterator

import pytest
from spakky.tracing import TraceContext, W3CTracePropagator

from spakky.dispatch.tracing import (
    CompositeTracePropagator,
    InvalidTracePropagatorError,
    propagation_order,
)

from .tracing_fakes import (
    SPAN_ID,
    TRACE_ID,
    TRACEPARENT,
    Alpha,
    B3SinglePropagator,
    Beta,
    ExplodingPropagator,
    FirstB3Propagator,
    FirstW3CPropagator,
    OrderedOne,
    OrderedTwo,
    RecordingPropagator,
    ids,
)

CALLER = TraceContext(trace_id=TRACE_ID, span_id=SPAN_ID)
OTHER = TraceContext.new_root()


@pytest.fixture
def log(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> pytest.LogCaptureFixture:
    """Warnings of the composite, even after something disabled its logger."""
    logger = logging.getLogger("spakky.dispatch.tracing.composite")
    monkeypatch.setattr(logger, "disabled", False)
    monkeypatch.setattr(logger, "propagate", True)
    caplog.set_level(logging.WARNING, logger=logger.name)
    return caplog


@pytest.fixture
def current() -> Iterator[TraceContext]:
    """``CALLER`` is the current trace context for the test."""
    TraceContext.set(CALLER)
    yield CALLER
    TraceContext.clear()


def test_composite_order_by_order_then_name_expect_ascending() -> None:
    """Propagators run by ascending ``@Order``, ties by qualified class name."""
    beta, alpha = Beta(["beta"]), Alpha(["alpha"])
    two, one, first = OrderedTwo(["two"]), OrderedOne(["one"]), FirstB3Propagator()
    composite = CompositeTracePropagator([beta, two, alpha, one, first])
    assert composite.propagators == (first, one, two, alpha, beta)
    assert composite.fields() == ["b3", "one", "two", "alpha", "beta"]
    assert propagation_order(first) < propagation_order(W3CTracePropagator())


def test_composite_empty_expect_no_fields_and_no_context() -> None:
    """With no propagator nothing is written and nothing is extracted."""
    composite = CompositeTracePropagator()
    carrier: dict[str, str] = {}
    composite.inject(carrier)
    assert carrier == {}
    assert composite.fields() == []
    assert composite.extract({"traceparent": TRACEPARENT}) is None


def test_composite_inject_several_formats_expect_each_header(
    current: TraceContext,
) -> None:
    """Every propagator writes the current context in its own format."""
    composite = CompositeTracePropagator([W3CTracePropagator(), B3SinglePropagator()])
    carrier: dict[str, str] = {"unrelated": "kept"}
    composite.inject(carrier)
    assert carrier == {
        "unrelated": "kept",
        "traceparent": f"00-{TRACE_ID}-{SPAN_ID}-01",
        "b3": f"{TRACE_ID}-{SPAN_ID}-1",
    }


def test_composite_inject_without_current_context_expect_nothing() -> None:
    """No current context: the carrier stays as it was."""
    composite = CompositeTracePropagator([W3CTracePropagator(), B3SinglePropagator()])
    carrier: dict[str, str] = {}
    composite.inject(carrier)
    assert carrier == {}


def test_composite_inject_outside_fields_expect_dropped() -> None:
    """Headers outside a propagator's fields and non-str values are not written."""
    greedy = RecordingPropagator(
        ["mine", "count"], writes={"mine": "yes", "theirs": "no", "count": 3}
    )
    carrier: dict[str, str] = {}
    CompositeTracePropagator([greedy]).inject(carrier)
    assert carrier == {"mine": "yes"}


def test_composite_inject_gets_empty_scratch_carrier_expect_no_peeking() -> None:
    """A propagator never sees headers written by the caller or by others."""
    one = OrderedOne(["one"], writes={"one": "1"})
    two = OrderedTwo(["two"], writes={"two": "2"})
    carrier = {"existing": "value"}
    CompositeTracePropagator([one, two]).inject(carrier)
    assert one.injected == [{}]
    assert two.injected == [{}]
    assert carrier == {"existing": "value", "one": "1", "two": "2"}


def test_composite_inject_shared_header_expect_earlier_wins() -> None:
    """Two propagators writing one header: the earlier one's value is kept."""
    one = OrderedOne(["shared"], writes={"shared": "from-one"})
    two = OrderedTwo(["shared"], writes={"shared": "from-two"})
    carrier = {"shared": "stale"}
    CompositeTracePropagator([two, one]).inject(carrier)
    assert carrier == {"shared": "from-one"}


def test_composite_inject_propagator_raises_expect_others_still_written(
    current: TraceContext, log: pytest.LogCaptureFixture
) -> None:
    """A failing propagator is skipped and logged; the others still write."""
    composite = CompositeTracePropagator([ExplodingPropagator(), W3CTracePropagator()])
    carrier: dict[str, str] = {}
    composite.inject(carrier)
    assert carrier == {"traceparent": f"00-{TRACE_ID}-{SPAN_ID}-01"}
    assert "ExplodingPropagator.inject failed" in log.text


def test_composite_extract_sees_only_own_headers_expect_filtered() -> None:
    """Each propagator is shown only its own, string-valued headers."""
    one = OrderedOne(["one", "also"])
    two = OrderedTwo(["two"])
    carrier: dict[str, object] = {"one": "1", "also": 5, "two": "2", "other": "x"}
    assert CompositeTracePropagator([one, two]).extract(carrier) is None  # type: ignore[arg-type]
    assert one.extracted == [{"one": "1"}]
    assert two.extracted == [{"two": "2"}]


def test_composite_extract_without_own_headers_expect_not_called() -> None:
    """A propagator none of whose headers arrived is not asked."""
    one = OrderedOne(["one"], returns=OTHER)
    assert CompositeTracePropagator([one]).extract({"two": "2"}) is None
    assert one.extracted == []


def test_composite_extract_first_valid_expect_earlier_wins() -> None:
    """Both formats carry a context: the earlier propagator's is used."""
    carrier = {
        "traceparent": TRACEPARENT,
        "b3": f"{OTHER.trace_id}-{OTHER.span_id}-1",
    }
    w3c_first = CompositeTracePropagator([B3SinglePropagator(), FirstW3CPropagator()])
    b3_first = CompositeTracePropagator([W3CTracePropagator(), FirstB3Propagator()])
    assert ids(w3c_first.extract(carrier)) == (TRACE_ID, SPAN_ID, None, 1)
    assert ids(b3_first.extract(carrier)) == (OTHER.trace_id, OTHER.span_id, None, 1)


@pytest.mark.parametrize(
    "traceparent",
    [
        "garbage",
        TRACEPARENT[:40],
        f"ff-{TRACE_ID}-{SPAN_ID}-01",
        f"01-{TRACE_ID}-{SPAN_ID}-01",
    ],
)
def test_composite_extract_bad_traceparent_expect_next_format(
    traceparent: str,
) -> None:
    """A refused ``traceparent`` falls through to the next format."""
    composite = CompositeTracePropagator([B3SinglePropagator(), FirstW3CPropagator()])
    carrier = {"traceparent": traceparent, "b3": f"{TRACE_ID}-{SPAN_ID}-0"}
    assert ids(composite.extract(carrier)) == (TRACE_ID, SPAN_ID, None, 0)


def test_composite_extract_wrong_version_never_reaches_propagator_expect_none() -> None:
    """A wrong-version ``traceparent`` is refused before the propagator sees it."""
    recorder = RecordingPropagator(["traceparent"], returns=CALLER)
    carrier = {"traceparent": f"ff-{TRACE_ID}-{SPAN_ID}-01"}
    assert CompositeTracePropagator([recorder]).extract(carrier) is None
    assert recorder.extracted == []


@pytest.mark.parametrize(
    "returned",
    [
        "not a context",
        TraceContext(trace_id="short", span_id=SPAN_ID),
        TraceContext(trace_id=TRACE_ID, span_id="0" * 16),
    ],
)
def test_composite_extract_invalid_context_expect_next_format(
    returned: object,
) -> None:
    """A propagator returning an unusable context is ignored."""
    bogus = OrderedOne(["one"], returns=returned)
    b3 = B3SinglePropagator()
    carrier = {"one": "1", "b3": f"{TRACE_ID}-{SPAN_ID}-1"}
    extracted = CompositeTracePropagator([bogus, b3]).extract(carrier)
    assert ids(extracted) == (TRACE_ID, SPAN_ID, None, 1)


def test_composite_extract_propagator_raises_expect_logged_and_skipped(
    log: pytest.LogCaptureFixture,
) -> None:
    """A propagator raising on inbound headers never makes extraction raise."""
    composite = CompositeTracePropagator([ExplodingPropagator()])
    assert composite.extract({"x-exploding": "boom"}) is None
    assert "ExplodingPropagator.extract raised" in log.text


@pytest.mark.parametrize("fields", [[], "traceparent", ["ok", ""], ["ok", 3]])
def test_composite_unusable_fields_expect_invalid_trace_propagator_error(
    fields: object,
) -> None:
    """A propagator whose ``fields()`` names no usable header fails at startup."""
    with pytest.raises(InvalidTracePropagatorError, match="RecordingPropagator"):
        CompositeTracePropagator([RecordingPropagator(fields)])  # type: ignore[arg-type]


def test_composite_duplicate_field_names_expect_listed_once() -> None:
    """Repeated names in ``fields()`` are kept once, in order."""
    composite = CompositeTracePropagator([RecordingPropagator(["a", "b", "a"])])
    assert composite.fields() == ["a", "b"]
