"""A task message as an outbox row, and back: JSON, readable by an operator.

The payload holds the task's name, id, arguments and options; the row's headers
hold the propagation headers as they were injected at dispatch. Times become
absolute when stored: a ``countdown`` becomes an ``eta`` and an ``expires`` in
seconds becomes a time, both counted from the dispatch, so a relay delay or a
broker outage never pushes a task later than the caller asked.
"""

import json
from collections.abc import Mapping
from dataclasses import fields
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from spakky.outbox.common.message import OutboxMessage

from spakky.dispatch.outbox.error import CorruptOutboxMessageError, UnstorableTaskError
from spakky.dispatch.outbox.from_core import (
    DispatchOptions,
    TaskMessage,
    find_unencodable,
)

FORMAT = 1
"""Version of the payload layout; a relay refuses a layout it does not know."""

TYPE_KEY = "__spakky_outbox_type__"
"""Key of the objects that stand for non-JSON values (a datetime, say)."""

_TYPE_KEY_JSON = json.dumps(TYPE_KEY).encode()
_OPTION_NAMES = tuple(option.name for option in fields(DispatchOptions))
_TIMES = ("eta", "expires")


def encode(
    message: TaskMessage, *, partition_key: str | None, now: datetime
) -> OutboxMessage:
    """The outbox row of ``message`` (which has its task id), dispatched at ``now``.

    Raises:
        UnstorableTaskError: An argument, option or header cannot be stored;
            names the culprit.
    """
    body = {
        "format": FORMAT,
        "task_name": message.task_name,
        "task_id": message.task_id,
        "args": list(message.args),
        "kwargs": dict(message.kwargs),
        "options": _options(message.options, now),
    }
    try:
        payload = _dumps(body)
    except (TypeError, ValueError) as error:
        raise UnstorableTaskError(_culprit(message, error)) from error
    headers = dict(message.headers)
    if not all(isinstance(v, str) for v in headers.values()):
        raise UnstorableTaskError(f"{message.task_name}: a header value is not a str")
    return OutboxMessage(
        id=uuid4(),
        event_name=message.task_name,
        payload=payload,
        headers=headers,
        created_at=now,
        partition_key=partition_key,
    )


def decode(row: OutboxMessage) -> TaskMessage:
    """The task message stored in ``row``.

    Raises:
        CorruptOutboxMessageError: The row is not a task message of a known layout.
    """
    try:
        body = json.loads(row.payload, object_hook=_untag)
        if body.get("format") != FORMAT:
            raise ValueError(f"unknown payload format {body.get('format')!r}")
        options: dict[str, Any] = {
            name: _time(value) if name in _TIMES and isinstance(value, str) else value
            for name, value in body["options"].items()
        }
        return TaskMessage(
            task_name=str(body["task_name"]),
            task_id=str(body["task_id"]),
            args=tuple(body["args"]),
            kwargs=dict(body["kwargs"]),
            headers={str(k): str(v) for k, v in dict(row.headers).items()},
            options=DispatchOptions(**options),
        )
    except Exception as error:
        raise CorruptOutboxMessageError(
            f"outbox message {row.id}: {type(error).__name__}: {error}"
        ) from error


def _options(options: DispatchOptions, now: datetime) -> dict[str, object]:
    stored = {name: getattr(options, name) for name in _OPTION_NAMES}
    countdown = stored.pop("countdown")
    if countdown is not None:
        stored["eta"] = now + timedelta(seconds=float(countdown))
    expires = stored["expires"]
    if isinstance(expires, (int, float)):
        stored["expires"] = now + timedelta(seconds=float(expires))
    return {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in stored.items()
        if value is not None
    }


def _time(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _dumps(value: object) -> bytes:
    tags = 0

    def tag(item: object) -> dict[str, str]:
        nonlocal tags
        tagged = _tag(item)
        tags += 1
        return tagged

    payload = json.dumps(value, default=tag, separators=(",", ":")).encode()
    if payload.count(_TYPE_KEY_JSON) != tags:
        raise ValueError(f"the key {TYPE_KEY!r} is reserved")
    return payload


def _tag(value: object) -> dict[str, str]:
    """A JSON object for a value JSON cannot hold; TypeError for anything else."""
    if isinstance(value, datetime):
        return {TYPE_KEY: "datetime", "value": value.isoformat()}
    if isinstance(value, date):
        return {TYPE_KEY: "date", "value": value.isoformat()}
    if isinstance(value, time):
        return {TYPE_KEY: "time", "value": value.isoformat()}
    if isinstance(value, UUID):
        return {TYPE_KEY: "uuid", "value": str(value)}
    if isinstance(value, Decimal):
        return {TYPE_KEY: "decimal", "value": str(value)}
    raise TypeError(f"{type(value).__name__} is not JSON data")


_UNTAG: Mapping[str, Any] = {
    "datetime": datetime.fromisoformat,
    "date": date.fromisoformat,
    "time": time.fromisoformat,
    "uuid": UUID,
    "decimal": Decimal,
}


def _untag(obj: dict[str, Any]) -> object:
    kind = obj.get(TYPE_KEY)
    if kind is None:
        return obj
    if set(obj) != {TYPE_KEY, "value"} or kind not in _UNTAG:
        raise ValueError(f"unknown tagged value {kind!r}")
    return _UNTAG[kind](obj["value"])


def _culprit(message: TaskMessage, error: Exception) -> str:
    found = find_unencodable(message.args, message.kwargs, _dumps)
    if found is None:
        return f"{message.task_name}: {error}"
    label, value, cause = found
    return f"{message.task_name}: {label} of type {type(value).__name__} ({cause})"
