"""``MessageBinding`` and the canonical form of arguments, on their own."""

import hashlib
import json
import math
from typing import Any

import pytest

from spakky.dispatch.auth import MessageBinding, arguments_digest, canonical_arguments
from spakky.dispatch.auth.message_binding import NotPlainValueError

BINDING = MessageBinding(
    audience="orders", task_name="m.H.refund", task_id="id-1", arguments="ab" * 32
)


def test_canonical_arguments_expect_compact_sorted_ascii_json() -> None:
    """Tuples become lists, keys are sorted, no spaces, non-ASCII escaped."""
    text = canonical_arguments(
        ("é", (1, 2.5), {"b": None, "a": True}), {"z": -0.0, "y": [False]}
    )
    assert text == (b'[["\\u00e9",[1,2.5],{"a":true,"b":null}],{"y":[false],"z":-0.0}]')
    assert canonical_arguments([], {}) == b"[[],{}]"


def test_canonical_arguments_round_trip_expect_same_digest() -> None:
    """What a JSON or msgpack worker decodes digests like what was sent."""
    sent: tuple[Any, ...] = ("x", (1, (2, 3)), {"k": ("v", 1.5)}, 10**30, 0.1)
    received = json.loads(json.dumps([list(sent), {"n": 1}]))
    assert arguments_digest(sent, {"n": 1}) == arguments_digest(
        received[0], received[1]
    )
    expected = hashlib.sha256(canonical_arguments(sent, {"n": 1})).hexdigest()
    assert arguments_digest(sent, {"n": 1}) == expected


def test_canonical_arguments_distinguishes_types_expect_different_digests() -> None:
    """1, 1.0, True and "1" are different arguments."""
    digests = {arguments_digest((value,), {}) for value in (1, 1.0, True, "1")}
    assert len(digests) == 4


@pytest.mark.parametrize(
    ("args", "kwargs", "label", "what"),
    [
        ((math.inf,), {}, "argument 0", "a non-finite float (inf)"),
        ((), {"when": object()}, "argument 'when'", "of type object"),
        (([{"k": {3}}],), {}, "argument 0", "of type set"),
        (({None: 1},), {}, "argument 0", "a dict with a key of type NoneType"),
    ],
)
def test_canonical_arguments_not_plain_expect_error_naming_argument(
    args: tuple[object, ...], kwargs: dict[str, object], label: str, what: str
) -> None:
    """The first argument without a canonical form is named, with what it is."""
    with pytest.raises(NotPlainValueError) as caught:
        canonical_arguments(args, kwargs)
    assert (caught.value.label, caught.value.what) == (label, what)
    assert str(caught.value) == f"{label} is {what}"


def test_canonical_arguments_too_deep_expect_not_plain() -> None:
    """A structure nested beyond the interpreter's limit is refused, not a crash."""
    deep: list[object] = []
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(NotPlainValueError, match="nested too deeply"):
        canonical_arguments((deep,), {})


def test_binding_claim_expect_canonical_json_and_parse_round_trip() -> None:
    """The claim is canonical JSON; parsing it gives the same binding back."""
    assert json.loads(BINDING.claim()) == {
        "v": 1,
        "aud": "orders",
        "task": "m.H.refund",
        "id": "id-1",
        "args": "ab" * 32,
        "nbf": None,
    }
    assert BINDING.claim().startswith('{"args":')
    assert MessageBinding.parse(BINDING.claim()) == BINDING
    delayed = MessageBinding(
        audience="a", task_name="t", task_id="i", arguments="d", not_before=17.25
    )
    assert MessageBinding.parse(delayed.claim()) == delayed
    assert delayed.matches(delayed.claim())


def test_binding_matches_expect_exact_claim_only() -> None:
    """Only the exact canonical claim matches (also after a non-ASCII rewrite)."""
    assert BINDING.matches(BINDING.claim())
    assert not BINDING.matches(BINDING.claim().replace("id-1", "id-2"))
    assert not BINDING.matches(BINDING.claim() + " ")
    assert not BINDING.matches(BINDING.claim().replace("orders", "ördérs"))


@pytest.mark.parametrize(
    "claim",
    [
        None,
        7,
        "not json",
        "[]",
        '{"v":1}',
        BINDING.claim().replace('"v":1', '"v":2'),
        BINDING.claim().replace('"id":"id-1"', '"id":5'),
        BINDING.claim().replace('"nbf":null', '"nbf":true'),
        BINDING.claim().replace('"nbf":null', '"nbf":"soon"'),
        BINDING.claim().replace('"nbf":null', '"nbf":NaN'),
        BINDING.claim().replace('{"args"', '{"extra":0,"args"'),
    ],
    ids=[
        "none",
        "int",
        "text",
        "list",
        "fields",
        "version",
        "id-type",
        "nbf-bool",
        "nbf-text",
        "nbf-nan",
        "extra-field",
    ],
)
def test_binding_parse_foreign_claim_expect_none(claim: object) -> None:
    """Anything but a claim this version writes parses to None."""
    assert MessageBinding.parse(claim) is None
