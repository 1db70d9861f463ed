"""The outbox encoding: a task message as JSON and back, refusals at dispatch."""

import json
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from spakky.outbox.common.message import OutboxMessage

from spakky.dispatch.core import DispatchOptions
from spakky.dispatch.core.adapter import TaskMessage
from spakky.dispatch.outbox import (
    CorruptOutboxMessageError,
    UnstorableTaskError,
    decode,
    encode,
)
from spakky.dispatch.outbox.codec import TYPE_KEY

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _message(**changes: object) -> TaskMessage:
    fields: dict[str, object] = {
        "task_name": "shop.Mail.confirm",
        "task_id": "id-1",
        "args": ("A-1", 3),
        "kwargs": {"lang": "en"},
        "headers": {"traceparent": "00-abc-def-01"},
    }
    fields.update(changes)
    return TaskMessage(**fields)  # type: ignore[arg-type]


def test_encode_decode_expect_same_message_and_readable_json() -> None:
    """Name, id, arguments, headers and every option survive; the payload is JSON."""
    options = DispatchOptions(
        queue="mail",
        routing_key="mail.eu",
        priority=7,
        eta=NOW + timedelta(hours=1),
        expires=NOW + timedelta(days=1),
        time_limit=30,
        soft_time_limit=20,
        ignore_result=True,
    )
    message = _message(options=options)
    row = encode(message, partition_key="order-1", now=NOW)
    assert (row.event_name, row.partition_key, row.created_at) == (
        "shop.Mail.confirm",
        "order-1",
        NOW,
    )
    assert row.headers == {"traceparent": "00-abc-def-01"}
    assert json.loads(row.payload)["args"] == ["A-1", 3]
    back = decode(row)
    assert back == TaskMessage(
        task_name="shop.Mail.confirm",
        task_id="id-1",
        args=("A-1", 3),
        kwargs={"lang": "en"},
        headers={"traceparent": "00-abc-def-01"},
        options=options,
    )


def test_encode_relative_times_expect_absolute_from_dispatch() -> None:
    """A countdown becomes an eta, an expiry in seconds a time, both from ``now``."""
    options = DispatchOptions(countdown=30, expires=600.0)
    back = decode(encode(_message(options=options), partition_key=None, now=NOW))
    assert back.options == DispatchOptions(
        eta=NOW + timedelta(seconds=30), expires=NOW + timedelta(seconds=600)
    )


def test_encode_rich_values_expect_same_types_back() -> None:
    """datetime, date, time, UUID and Decimal arguments come back as themselves."""
    values = (NOW, date(2026, 1, 2), time(3, 4), UUID(int=7), Decimal("1.10"))
    back = decode(encode(_message(args=values), partition_key=None, now=NOW))
    assert back.args == values
    assert [type(value) for value in back.args] == [type(v) for v in values]


def test_encode_naive_stored_time_expect_read_as_utc() -> None:
    """A stored option time without an offset is read as UTC."""
    row = encode(_message(), partition_key=None, now=NOW)
    body = json.loads(row.payload)
    body["options"] = {"eta": "2026-03-01T12:00:00"}
    back = decode(_row(body))
    assert back.options.eta == NOW


def test_encode_unstorable_argument_expect_error_naming_it() -> None:
    """An object JSON cannot hold is refused at dispatch, naming the argument."""
    with pytest.raises(UnstorableTaskError) as caught:
        encode(_message(kwargs={"when": object()}), partition_key=None, now=NOW)
    assert "argument 'when' of type object" in str(caught.value)
    assert "nothing was stored" in str(caught.value)


def test_encode_reserved_key_in_argument_expect_refused() -> None:
    """A dict using the tag key could not be told from a tag: refused."""
    with pytest.raises(UnstorableTaskError, match="argument 0 of type dict"):
        encode(_message(args=({TYPE_KEY: "x"},)), partition_key=None, now=NOW)


def test_encode_unstorable_option_expect_error_without_argument() -> None:
    """A value that fails outside the arguments is still refused, with its cause."""
    options = DispatchOptions(queue=object())  # type: ignore[arg-type]
    with pytest.raises(UnstorableTaskError, match="is not JSON data"):
        encode(_message(options=options), partition_key=None, now=NOW)


def test_encode_non_string_header_expect_refused() -> None:
    """Headers are strings; anything else is refused."""
    with pytest.raises(UnstorableTaskError, match="header value is not a str"):
        encode(_message(headers={"x": 1}), partition_key=None, now=NOW)


def _row(body: object) -> OutboxMessage:
    return OutboxMessage(
        id=uuid4(),
        event_name="shop.Mail.confirm",
        payload=json.dumps(body).encode(),
        headers={},
        created_at=NOW,
    )


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        json.dumps({"format": 99}).encode(),
        json.dumps({"format": 1}).encode(),
        json.dumps(
            {
                "format": 1,
                "task_name": "t",
                "task_id": "i",
                "args": [{TYPE_KEY: "pickle", "value": "x"}],
                "kwargs": {},
                "options": {},
            }
        ).encode(),
    ],
    ids=["garbage", "unknown-format", "missing-fields", "unknown-tag"],
)
def test_decode_corrupt_row_expect_corrupt_error(payload: bytes) -> None:
    """A row this version cannot read says so, with the row's id."""
    row = _row({})
    row = OutboxMessage(
        id=row.id,
        event_name=row.event_name,
        payload=payload,
        headers={},
        created_at=NOW,
    )
    with pytest.raises(CorruptOutboxMessageError) as caught:
        decode(row)
    assert str(row.id) in str(caught.value)
