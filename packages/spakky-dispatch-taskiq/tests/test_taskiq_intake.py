"""What a worker refuses before taskiq's receiver runs a message."""

import json
from typing import Any

import pytest
from taskiq import InMemoryBroker
from taskiq.formatters.json_formatter import JSONFormatter

from spakky.dispatch.taskiq import ENDPOINT_MARK, check_delivery
from spakky.dispatch.taskiq.delivery import describe, peek

PLACE = "shop.Orders.place"
CARD = "4111 1111 1111 1111"


def _broker(formatter: Any = None) -> InMemoryBroker:
    broker = InMemoryBroker()
    if formatter is not None:
        broker.with_formatter(formatter)

    async def place(*args: object, **kwargs: object) -> None:
        """An endpoint of ours."""

    async def plain(*args: object, **kwargs: object) -> None:
        """Somebody's own taskiq task."""

    setattr(place, ENDPOINT_MARK, True)
    broker.register_task(place, task_name=PLACE)
    broker.register_task(plain, task_name="plain")
    return broker


def _message(**fields: object) -> bytes:
    message: dict[str, object] = {
        "task_id": "t-1",
        "task_name": PLACE,
        "labels": {},
        "labels_types": {},
        "args": ["ada"],
        "kwargs": {},
    }
    message.update(fields)
    return json.dumps(message).encode()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x00not json " + CARD.encode(), "not JSON at line 1 column 1"),
        (b"\xff\xfe" + CARD.encode(), "not UTF-8 at byte 0"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (json.dumps([1, CARD]).encode(), "the message: model_type"),
        (json.dumps({"task_name": CARD}).encode(), "task_id: missing (and 3 more)"),
        (_message(args=CARD), "args: list_type"),
    ],
    ids=["not-json", "not-utf8", "deep", "a-list", "missing-fields", "args"],
)
def test_undecodable_expect_refused_by_kind_and_position(
    data: bytes, reason: str
) -> None:
    """Every decoding failure is refused, saying what and where, never the bytes."""
    refusal = check_delivery(_broker(), data)
    assert refusal is not None
    assert refusal.reason == f"cannot be decoded, {reason}"
    assert refusal.message is None
    assert "4111" not in refusal.reason


def test_undecodable_with_json_formatter_expect_pydantic_position() -> None:
    """With taskiq's JSONFormatter the JSON parser's position is given."""
    refusal = check_delivery(_broker(JSONFormatter()), b"\x00" + CARD.encode())
    assert refusal is not None
    assert refusal.reason == (
        "cannot be decoded, not JSON: expected value at line 1 column 1"
    )


def test_undecodable_by_other_formatter_expect_error_type_only() -> None:
    """An error of some other formatter is named by its type."""

    class Exploding(JSONFormatter):
        def loads(self, message: bytes) -> Any:
            raise LookupError(CARD)

    refusal = check_delivery(_broker(Exploding()), b"{}")
    assert refusal is not None
    assert refusal.reason == "cannot be decoded, LookupError"


def test_label_of_wrong_type_expect_refused_naming_label_escaped() -> None:
    """A label that does not parse as its declared type is refused, its name escaped."""
    data = _message(labels={"x\ny": CARD}, labels_types={"x\ny": 99})
    refusal = check_delivery(_broker(), data)
    assert refusal is not None
    assert refusal.reason == "label x\\ny is not of its declared type 99 (ValueError)"
    assert refusal.message is not None
    assert refusal.message.task_id == "t-1"


def test_unknown_task_expect_refused_as_unknown() -> None:
    """A task name this worker does not have is refused, marked unknown."""
    refusal = check_delivery(_broker(), _message(task_name="shop.Old.gone"))
    assert refusal is not None
    assert refusal.unknown_task
    assert "no task of this worker's application has that name" in refusal.reason


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"labels": {"ack_type": "manual"}}, "ack_type label"),
        ({"labels": {"timeout": "soon"}}, "timeout label"),
        ({"labels": {"timeout": "nan"}}, "timeout label"),
        ({"labels": {"timeout": True}}, "timeout label"),
        ({"labels": {"timeout": [1]}}, "timeout label"),
        ({"labels": {"timeout": "-1"}}, "timeout label"),
        ({"kwargs": {"_spakky_taskiq_context": 1}}, "reserved keyword argument"),
    ],
)
def test_our_endpoint_with_foreign_control_expect_refused(
    fields: dict[str, object], reason: str
) -> None:
    """What our senders never send, on our endpoints, is refused."""
    refusal = check_delivery(_broker(), _message(**fields))
    assert refusal is not None
    assert reason in refusal.reason
    assert not refusal.unknown_task


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"labels": {"timeout": "2.5"}, "labels_types": {"timeout": 4}},
        {"labels": {"timeout": 3}},
        {"labels": {"x": "1"}, "labels_types": {"x": 2, "absent": 2}},
        {"task_name": "plain", "labels": {"ack_type": "manual"}},
    ],
)
def test_runnable_message_expect_none(fields: dict[str, object]) -> None:
    """Good messages pass; another task's own taskiq labels are its business."""
    assert check_delivery(_broker(), _message(**fields)) is None


def test_peek_expect_task_named_or_undecodable() -> None:
    """Log lines name a decodable message's task, escaped, and nothing else."""
    formatter = JSONFormatter()
    assert peek(formatter, _message(task_id="a\nb")) == f"task {PLACE}[a\\nb]"
    assert peek(formatter, CARD.encode()) == "an undecodable message"
    assert describe(None) == "a message"
