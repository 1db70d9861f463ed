"""``RabbitQueueBroker``: taskiq-aio-pika's broker, rejecting into dead letters.

The queue is declared with a dead-letter exchange routing to
``<queue>.dead_letter`` (taskiq-aio-pika does so for every queue it declares).
This subclass hands the receiver ``Delivery`` objects whose ``reject`` is
RabbitMQ's ``basic.reject`` without requeue, so a refused message lands there
(``x-death`` says when and from where), and reads the delivery count a quorum
queue keeps (``x-delivery-count``): a message delivered ``max_deliveries``
times already, because it stopped every worker that took it, is rejected
before it runs again. A classic queue counts no deliveries.

taskiq-aio-pika yields ``AckableMessage(data=..., ack=message.ack)``, whose
``ack`` is the bound ``ack`` of aio-pika's incoming message: that message is
read back from it (``__self__``), the only way to reach its headers and
``reject`` without copying the broker's ``listen``. If taskiq-aio-pika ever
yields something else, the probe fails and its message is passed on as it is:
refusals then acknowledge (drop) instead of dead-lettering, and deliveries are
not counted.
"""

from collections.abc import AsyncGenerator
from logging import getLogger
from typing import Any, override

from aio_pika.abc import AbstractIncomingMessage
from taskiq import AckableMessage
from taskiq_aio_pika import AioPikaBroker, Exchange, Queue, QueueType

from spakky.dispatch.core.adapter import printable
from spakky.dispatch.taskiq.delivery import Delivery, dead_letter_name, peek

logger = getLogger(__name__)

DELIVERY_COUNT_HEADER = "x-delivery-count"
"""Header in which a quorum queue counts earlier deliveries of a message."""


class RabbitQueueBroker(AioPikaBroker):
    """One queue bound to one exchange, with dead letters and a delivery limit."""

    max_deliveries: int
    """Deliveries of one message before it is dead-lettered instead (quorum)."""

    dead_letters: str
    """The queue rejected messages go to."""

    def __init__(
        self,
        url: str,
        *,
        queue_name: str,
        exchange_name: str,
        queue_type: QueueType,
        max_deliveries: int,
        **connection_kwargs: Any,
    ) -> None:
        self.dead_letters = dead_letter_name(queue_name)
        self.max_deliveries = max_deliveries
        super().__init__(
            url,
            exchange=Exchange(name=exchange_name),
            task_queues=[Queue(name=queue_name, type=queue_type)],
            dead_letter_queue=Queue(name=self.dead_letters, type=QueueType.CLASSIC),
            **connection_kwargs,
        )

    @override
    async def listen(self) -> AsyncGenerator[AckableMessage, None]:
        """Yield every message as a ``Delivery``; reject the over-delivered."""
        async for message in super().listen():
            incoming = incoming_of(message)
            if incoming is None:
                yield message
                continue
            deliveries = delivery_count(incoming) + 1
            if deliveries > self.max_deliveries:
                await self._give_up(incoming, deliveries - 1)
                continue
            yield Delivery(
                data=message.data,
                ack=message.ack,
                reject=_rejecter(incoming),
                dead_letters=self.dead_letters,
                deliveries=deliveries,
            )

    async def _give_up(self, incoming: AbstractIncomingMessage, delivered: int) -> None:
        reason = (
            f"delivered {delivered} times without being acknowledged (did it "
            "stop its worker each time?)"
        )
        await _rejecter(incoming)(reason)
        logger.warning(
            "Refused %s: %s; moved to %s",
            peek(self.formatter, incoming.body),
            reason,
            printable(self.dead_letters),
        )


def incoming_of(message: AckableMessage) -> AbstractIncomingMessage | None:
    """The aio-pika message behind taskiq-aio-pika's ``message``, if it is one."""
    owner = getattr(message.ack, "__self__", None)
    return owner if isinstance(owner, AbstractIncomingMessage) else None


def delivery_count(incoming: AbstractIncomingMessage) -> int:
    """Earlier deliveries of ``incoming`` (0 when the queue does not count)."""
    count = (incoming.headers or {}).get(DELIVERY_COUNT_HEADER)
    if isinstance(count, bool) or not isinstance(count, int):
        return 0
    return max(count, 0)


def _rejecter(incoming: AbstractIncomingMessage) -> Any:
    async def reject(reason: str) -> None:
        """Reject without requeue (to the dead letters), unless settled already."""
        if not incoming.processed:
            await incoming.reject(requeue=False)

    return reject
