"""What a worker checks in a received message before taskiq's receiver sees it.

A message the worker cannot decode, for a task it does not have, or carrying
what none of our senders ever sends is refused here, with a reason that names
the problem by kind and position only: no byte of the message goes into the
reason, and names taken from the message are escaped (``printable``).
"""

import json
import math
from dataclasses import dataclass

from pydantic import ValidationError
from taskiq import AsyncBroker, TaskiqMessage
from taskiq.labels import parse_label

from spakky.dispatch.core.adapter import printable
from spakky.dispatch.taskiq.endpoint import CONTEXT_PARAMETER, ENDPOINT_MARK

ACK_TYPE_LABEL = "ack_type"
"""taskiq's per-message acknowledgement label; our senders never set it, and a
foreign ``manual`` or invalid value would leave the message unacknowledged."""

TIMEOUT_LABEL = "timeout"
"""taskiq's per-message time limit label; our senders never set it, and taskiq
quotes an unreadable value into the worker's log."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Refusal:
    """Why a received message is not run."""

    reason: str
    """What is wrong, by kind and position, without message contents."""

    message: TaskiqMessage | None = None
    """The decoded message, when it could be decoded."""

    unknown_task: bool = False
    """Whether the message names a task this worker does not have."""


def check_delivery(broker: AsyncBroker, data: bytes) -> Refusal | None:
    """Decode ``data`` as ``broker``'s receiver will; None when it may run."""
    admitted = admit_delivery(broker, data)
    return admitted if isinstance(admitted, Refusal) else None


def admit_delivery(broker: AsyncBroker, data: bytes) -> TaskiqMessage | Refusal:
    """``check_delivery``, giving the decoded message when it may run."""
    try:
        message = broker.formatter.loads(data)
    except Exception as error:
        return Refusal(reason=f"cannot be decoded, {_undecodable(error)}")
    for name, kind in (message.labels_types or {}).items():
        if name not in message.labels:
            continue
        try:
            parse_label(message.labels[name], kind)
        except Exception as error:
            return Refusal(
                reason=(
                    f"label {printable(name, 60)} is not of its declared type "
                    f"{kind} ({type(error).__name__})"
                ),
                message=message,
            )
    task = broker.find_task(message.task_name)
    if task is None:
        return Refusal(
            reason=(
                "no task of this worker's application has that name; deploy the "
                "handler (or route the queue to workers that have it), then "
                "replay the dead letter"
            ),
            message=message,
            unknown_task=True,
        )
    if getattr(task.original_func, ENDPOINT_MARK, False):
        if ACK_TYPE_LABEL in message.labels:
            return Refusal(
                reason="carries taskiq's ack_type label, which spakky-taskiq never sends",
                message=message,
            )
        labels = message.labels
        if TIMEOUT_LABEL in labels and not _seconds(labels[TIMEOUT_LABEL]):
            return Refusal(
                reason="carries taskiq's timeout label without a number of seconds",
                message=message,
            )
        if CONTEXT_PARAMETER in message.kwargs:
            return Refusal(
                reason=f"carries the reserved keyword argument {CONTEXT_PARAMETER}",
                message=message,
            )
    return message


def _seconds(value: object) -> bool:
    """Whether ``value`` reads as a finite, positive number of seconds."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return False
    try:
        seconds = float(value)
    except ValueError:
        return False
    return math.isfinite(seconds) and seconds > 0


def _undecodable(error: Exception) -> str:
    """What is wrong with an undecodable message: kind and position only."""
    if isinstance(error, ValidationError):
        return _invalid(error)
    if isinstance(error, json.JSONDecodeError):
        return f"not JSON at line {error.lineno} column {error.colno}"
    if isinstance(error, UnicodeDecodeError):
        return f"not UTF-8 at byte {error.start}"
    if isinstance(error, RecursionError):
        return "nested too deeply"
    return type(error).__name__


def _invalid(error: ValidationError) -> str:
    problems = error.errors(
        include_url=False, include_context=False, include_input=False
    )
    first = problems[0]
    where = ".".join(printable(part, 60) for part in first["loc"])
    if first["type"] == "json_invalid":
        what = "not JSON: " + printable(first["msg"].removeprefix("Invalid JSON: "))
    else:
        what = f"{where or 'the message'}: {first['type']}"
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{what}{more}"
