"""The receivers of ``spakky-taskiq worker``: prompt to stop, and guarded.

``PromptReceiver``: taskiq's worker sets its shutdown event from a plain
``signal.signal`` handler, which runs while the event loop sleeps in ``select``
but cannot wake it: the worker then stops only when some I/O or timer next wakes
the loop, seconds later on an idle RabbitMQ connection. This receiver keeps a
short timer running until shutdown is asked for, so a stopped worker stops at
once.

``GuardedReceiver`` (the default of ``spakky-taskiq worker``) also checks every
message before taskiq's receiver runs it (``intake.admit_delivery``). taskiq
alone logs an undecodable message with its bytes and drops it, and lets some
bad messages (an invalid ``ack_type`` label, a keyword argument colliding with
the endpoint's own) escape its callback unacknowledged, so they come back
forever. Here each is refused: moved to the queue's dead letters (or dropped,
on a broker that keeps none), with one log line that names the problem without
the message's contents, and the worker goes on.
"""

import asyncio
from logging import getLogger
from typing import Any, override

from taskiq import (
    AckableMessage,
    AsyncBroker,
    TaskiqResult,
)
from taskiq.receiver import Receiver
from taskiq.result_backends.dummy import DummyResultBackend
from taskiq.utils import maybe_awaitable

from spakky.dispatch.core.adapter import (
    AbstractSpakkyDispatchError,
    TaskNotRegisteredError,
    printable,
)
from spakky.dispatch.taskiq.delivery import Delivery, describe
from spakky.dispatch.taskiq.error import DeliveryRefusedError
from spakky.dispatch.taskiq.handoff import HandOffFormatter
from spakky.dispatch.taskiq.intake import Refusal, admit_delivery

logger = getLogger(__name__)

WAKE_INTERVAL = 0.2
"""Seconds between two wake-ups of an idle worker loop."""


class PromptReceiver(Receiver):
    """A taskiq ``Receiver`` whose worker reacts to SIGTERM/SIGINT within 0.2 s."""

    @override
    async def listen(self, finish_event: asyncio.Event) -> None:
        waker = asyncio.ensure_future(_wake_until(finish_event))
        try:
            await super().listen(finish_event)
        finally:
            waker.cancel()


class GuardedReceiver(PromptReceiver):
    """A ``PromptReceiver`` that refuses what it must not run, one line each.

    Each message is decoded once: the broker's formatter is wrapped
    (``HandOffFormatter``) so that taskiq's receiver gets the message the
    check decoded instead of decoding the same bytes again.
    """

    def __init__(self, broker: AsyncBroker, *args: Any, **kwargs: Any) -> None:
        super().__init__(broker, *args, **kwargs)
        if not isinstance(broker.formatter, HandOffFormatter):
            broker.formatter = HandOffFormatter(broker.formatter)

    @override
    async def callback(
        self, message: bytes | AckableMessage, raise_err: bool = False
    ) -> None:
        """Check ``message``, then run it as taskiq does; refuse it otherwise.

        A failure that escapes taskiq's own handling of a message that passed
        the check (a middleware raising, say) refuses it too, so it is never
        left unacknowledged.
        """
        data = message.data if isinstance(message, AckableMessage) else message
        admitted = admit_delivery(self.broker, data)
        if isinstance(admitted, Refusal):
            await refuse(self.broker, message, admitted)
            return
        formatter = self.broker.formatter
        handoff = formatter if isinstance(formatter, HandOffFormatter) else None
        if handoff is not None:
            handoff.hand(data, admitted)
        try:
            await super().callback(message, raise_err)
        except Exception as error:
            reason = f"handling it failed ({type(error).__name__})"
            await refuse(self.broker, message, Refusal(reason=reason))
        finally:
            if handoff is not None:
                handoff.take_back(data)


async def refuse(
    broker: AsyncBroker, message: bytes | AckableMessage, refusal: Refusal
) -> None:
    """Take ``message`` off its queue for ``refusal`` and log one line.

    A ``Delivery`` goes to its dead letters; any other acknowledgeable message
    is acknowledged (dropped); a plain one is already off the queue. When the
    message names its task id, its result says it was refused, so a caller
    waiting on it gets an error instead of its timeout.
    """
    what = describe(refusal.message)
    if isinstance(message, Delivery):
        where = f"moved to {printable(message.dead_letters)}"
        settle: Any = message.reject(refusal.reason)
    elif isinstance(message, AckableMessage):
        where = "dropped (this broker keeps no dead letters)"
        settle = maybe_awaitable(message.ack())
    else:
        where = "dropped (this broker keeps no dead letters)"
        settle = None
    try:
        if settle is not None:
            await settle
    except Exception as error:
        logger.warning(
            "Refused %s: %s; it could not be taken off the queue (%s) and will "
            "come back",
            what,
            refusal.reason,
            type(error).__name__,
        )
        return
    logger.warning("Refused %s: %s; %s", what, refusal.reason, where)
    await _store_refusal(broker, refusal)


async def _store_refusal(broker: AsyncBroker, refusal: Refusal) -> None:
    backend = broker.result_backend
    if refusal.message is None or isinstance(backend, DummyResultBackend):
        return
    name = printable(refusal.message.task_name)
    error: AbstractSpakkyDispatchError = (
        TaskNotRegisteredError(name)
        if refusal.unknown_task
        else DeliveryRefusedError(f"{name}: {refusal.reason}")
    )
    result: TaskiqResult[Any] = TaskiqResult(
        is_err=True, return_value=None, execution_time=0.0, error=error
    )
    try:
        await backend.set_result(refusal.message.task_id, result)
    except Exception as failure:
        logger.warning(
            "Could not store the refusal of %s (%s)",
            describe(refusal.message),
            type(failure).__name__,
        )


async def _wake_until(finish_event: asyncio.Event) -> None:
    while not finish_event.is_set():
        await asyncio.sleep(WAKE_INTERVAL)
