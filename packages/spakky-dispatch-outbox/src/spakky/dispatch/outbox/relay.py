"""The relay: claims committed task messages and publishes them through the transport.

``relay_batch`` decides, once, what happens to each claimed message; the sync
and async relays only carry its steps out (storage calls and publishes). For
each message, in claim order:

- published: marked published; the task id is the one the caller's handle has.
- the broker is unreachable (``BrokerUnavailableError``): the batch stops and
  every message not sent yet is released, no attempt spent: an outage is no
  message's fault. The next poll tries again.
- refused (any other error, or headers the transport's ``header_limits``
  refuse, as the dispatcher would): one attempt is spent and the reason recorded; at
  ``max_attempts`` the message is abandoned (kept, readable). Later messages of
  its partition key wait for the next poll, so none overtakes it.
- unreadable (``CorruptOutboxMessageError``): abandoned at once.
"""

import logging
from collections.abc import Awaitable, Callable, Generator, Sequence
from dataclasses import dataclass, field
from uuid import UUID

from spakky.outbox.common.message import OutboxMessage

from spakky.dispatch.outbox.codec import decode
from spakky.dispatch.outbox.error import CorruptOutboxMessageError
from spakky.dispatch.outbox.from_core import (
    NO_HEADER_LIMITS,
    BrokerUnavailableError,
    HeaderLimits,
    TaskMessage,
)

logger = logging.getLogger("spakky.dispatch.outbox.relay")


@dataclass(frozen=True, slots=True)
class Publish:
    """Publish ``message`` through the transport's sender."""

    message: TaskMessage


@dataclass(frozen=True, slots=True)
class Store:
    """Call the storage method ``method`` with ``args``."""

    method: str
    args: tuple[object, ...]


type Step = Publish | Store


@dataclass(slots=True)
class RelayReport:
    """What one batch did."""

    claimed: int = 0
    published: list[str] = field(default_factory=list)
    """Task ids published, in order."""
    refused: int = 0
    abandoned: int = 0
    released: int = 0
    outage: bool = False


def relay_batch(
    messages: Sequence[OutboxMessage],
    max_attempts: int,
    limits: HeaderLimits = NO_HEADER_LIMITS,
) -> Generator[Step, object, RelayReport]:
    """The steps that relay ``messages``; a failed step is thrown back in.

    Each message is checked against the transport's ``limits`` before it is
    published: the relay's process may be configured otherwise than the one
    that stored it.

    A failure of a storage step is not caught: the relay stops the batch and
    the claim timeout returns what it held.
    """
    report = RelayReport(claimed=len(messages))
    halted: set[str] = set()
    held: list[UUID] = []
    for index, row in enumerate(messages):
        if row.partition_key is not None and row.partition_key in halted:
            held.append(row.id)
            continue
        try:
            task = decode(row)
        except CorruptOutboxMessageError as error:
            logger.error("abandoned unreadable outbox message %s: %s", row.id, error)
            yield Store("note_failure", (row.id, str(error)))
            yield Store("mark_abandoned", (row.id,))
            report.abandoned += 1
            continue
        try:
            limits.check(task.task_name, task.headers)
            yield Publish(task)
        except BrokerUnavailableError as error:
            logger.warning(
                "broker unavailable; %d outbox messages wait: %s",
                len(messages) - index,
                error,
            )
            held.extend(rest.id for rest in messages[index:])
            report.outage = True
            break
        except Exception as error:
            yield from _refused(row, task, error, max_attempts, report)
            if row.partition_key is not None:
                halted.add(row.partition_key)
            continue
        yield Store("mark_published", (row.id,))
        report.published.append(str(task.task_id))
    if held:
        yield Store("release", (tuple(held),))
        report.released = len(held)
    return report


def _refused(
    row: OutboxMessage,
    task: TaskMessage,
    error: Exception,
    max_attempts: int,
    report: RelayReport,
) -> Generator[Step, object, None]:
    reason = f"{type(error).__name__}: {error}"
    yield Store("note_failure", (row.id, reason))
    attempts = row.retry_count + 1
    if attempts >= max_attempts:
        logger.error(
            "abandoned task %s (%s) after %d refused attempts: %s",
            task.task_id,
            task.task_name,
            attempts,
            reason,
        )
        yield Store("mark_abandoned", (row.id,))
        report.abandoned += 1
        return
    logger.warning(
        "transport refused task %s (%s), attempt %d of %d: %s",
        task.task_id,
        task.task_name,
        attempts,
        max_attempts,
        reason,
    )
    yield Store("increment_retry", (row.id,))
    report.refused += 1


def run_steps(
    steps: Generator[Step, object, RelayReport],
    perform: Callable[[Step], object],
) -> RelayReport:
    """Carry out ``steps`` with ``perform``, throwing each failure back in."""
    try:
        step = next(steps)
        while True:
            try:
                outcome = perform(step)
            except Exception as error:
                step = steps.throw(error)
            else:
                step = steps.send(outcome)
    except StopIteration as stop:
        report: RelayReport = stop.value
        return report


async def run_steps_async(
    steps: Generator[Step, object, RelayReport],
    perform: Callable[[Step], Awaitable[object]],
) -> RelayReport:
    """``run_steps`` for a ``perform`` that is awaited."""
    try:
        step = next(steps)
        while True:
            try:
                outcome = await perform(step)
            except Exception as error:
                step = steps.throw(error)
            else:
                step = steps.send(outcome)
    except StopIteration as stop:
        report: RelayReport = stop.value
        return report
