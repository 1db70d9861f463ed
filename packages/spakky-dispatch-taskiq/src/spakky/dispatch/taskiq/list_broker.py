"""``RedisListQueueBroker``: taskiq-redis's list broker, with dead letters.

A list has no acknowledgement: ``BRPOP`` takes the message off the list when a
worker receives it, so a worker that dies while running it loses it (at most
once). What this subclass adds: a message the receiver refuses is kept in the
dead-letter stream ``<queue>.dead_letter``, as with the stream broker.
"""

from collections.abc import AsyncGenerator
from functools import partial
from typing import Any, override

from redis.asyncio import Redis
from taskiq_redis import ListQueueBroker

from spakky.dispatch.taskiq.delivery import (
    DEAD_LETTER_MAXLEN,
    Delivery,
    dead_letter_fields,
    dead_letter_name,
)


class RedisListQueueBroker(ListQueueBroker):
    """A Redis list per queue, taken when received; refused messages kept."""

    dead_letters: str
    """The stream refused messages go to."""

    def __init__(self, url: str, *, queue_name: str, **connection_kwargs: Any) -> None:
        super().__init__(url, queue_name=queue_name, **connection_kwargs)
        self.dead_letters = dead_letter_name(queue_name)

    @override
    async def listen(self) -> AsyncGenerator[Delivery, None]:  # type: ignore[override]
        """Yield every message popped from the list, as a ``Delivery``."""
        async for data in super().listen():
            yield Delivery(
                data=data,
                ack=_taken_already,
                reject=partial(self._reject, data),
                dead_letters=self.dead_letters,
            )

    async def _reject(self, data: bytes, reason: str) -> None:
        fields = dead_letter_fields(data, reason, self.queue_name, 1)
        async with Redis(connection_pool=self.connection_pool) as redis:
            await redis.xadd(
                self.dead_letters,
                fields,  # type: ignore[arg-type]
                maxlen=DEAD_LETTER_MAXLEN,
                approximate=True,
            )


async def _taken_already() -> None:
    """Acknowledging a list message: it left the list when it was received."""
