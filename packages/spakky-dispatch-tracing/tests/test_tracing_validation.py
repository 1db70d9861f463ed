"""Strict checks on inbound ``traceparent`` values and extracted contexts."""

import pytest
from spakky.tracing import TraceContext

from spakky.dispatch.tracing import (
    TRACEPARENT_HEADER,
    admissible_header,
    is_valid_trace_context,
    is_valid_traceparent,
)
from spakky.dispatch.tracing.validation import parse_traceparent

from .tracing_fakes import MALFORMED_TRACEPARENTS, SPAN_ID, TRACE_ID, TRACEPARENT


def test_is_valid_traceparent_version_00_expect_true() -> None:
    """A well-formed version-00 header is accepted, sampled or not."""
    assert is_valid_traceparent(TRACEPARENT)
    assert is_valid_traceparent(f"00-{TRACE_ID}-{SPAN_ID}-00")


@pytest.mark.parametrize("value", MALFORMED_TRACEPARENTS)
def test_is_valid_traceparent_malformed_expect_false(value: str) -> None:
    """Malformed, truncated and wrong-version values are refused."""
    assert not is_valid_traceparent(value)


def test_parse_traceparent_valid_expect_ids_and_flags() -> None:
    """A valid value gives the ids and flags ``from_traceparent`` reads."""
    assert parse_traceparent(TRACEPARENT) == (TRACE_ID, SPAN_ID, 1)
    assert parse_traceparent(f"00-{TRACE_ID}-{SPAN_ID}-00") == (TRACE_ID, SPAN_ID, 0)
    assert parse_traceparent(f"00-{TRACE_ID}-{SPAN_ID}-ff") == (TRACE_ID, SPAN_ID, 255)
    parsed = TraceContext.from_traceparent(f"00-{TRACE_ID}-{SPAN_ID}-0a")
    assert parse_traceparent(f"00-{TRACE_ID}-{SPAN_ID}-0a") == (
        parsed.trace_id,
        parsed.span_id,
        parsed.trace_flags,
    )


@pytest.mark.parametrize("value", MALFORMED_TRACEPARENTS)
def test_parse_traceparent_malformed_expect_none(value: str) -> None:
    """Exactly what ``is_valid_traceparent`` refuses parses to None."""
    assert parse_traceparent(value) is None


def test_admissible_header_traceparent_expect_checked() -> None:
    """Only the ``traceparent`` header is checked against its format."""
    assert admissible_header(TRACEPARENT_HEADER, TRACEPARENT)
    assert not admissible_header(TRACEPARENT_HEADER, "ff-broken")


def test_admissible_header_other_format_expect_left_to_owner() -> None:
    """Headers of other formats are left to the propagator that owns them."""
    assert admissible_header("b3", "anything at all")


def test_is_valid_trace_context_well_formed_expect_true() -> None:
    """Contexts with W3C-shaped ids and flags are accepted."""
    assert is_valid_trace_context(TraceContext(trace_id=TRACE_ID, span_id=SPAN_ID))
    assert is_valid_trace_context(TraceContext.new_root().child())
    assert is_valid_trace_context(
        TraceContext(trace_id=TRACE_ID, span_id=SPAN_ID, trace_flags=255)
    )


@pytest.mark.parametrize(
    "context",
    [
        None,
        TRACEPARENT,
        TraceContext(trace_id=TRACE_ID[:-1], span_id=SPAN_ID),
        TraceContext(trace_id=TRACE_ID.upper(), span_id=SPAN_ID),
        TraceContext(trace_id="0" * 32, span_id=SPAN_ID),
        TraceContext(trace_id=TRACE_ID, span_id=SPAN_ID + "0"),
        TraceContext(trace_id=TRACE_ID, span_id="0" * 16),
        TraceContext(trace_id=TRACE_ID, span_id=SPAN_ID, trace_flags=256),
        TraceContext(trace_id=TRACE_ID, span_id=SPAN_ID, trace_flags=-1),
        TraceContext(trace_id=TRACE_ID, span_id=SPAN_ID, trace_flags=True),
        TraceContext(trace_id=123, span_id=SPAN_ID),  # type: ignore[arg-type]
        TraceContext(trace_id=TRACE_ID, span_id=None),  # type: ignore[arg-type]
    ],
)
def test_is_valid_trace_context_malformed_expect_false(context: object) -> None:
    """Anything a ``traceparent`` could not carry onwards is refused."""
    assert not is_valid_trace_context(context)
