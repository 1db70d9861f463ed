"""``RedisStreamQueueBroker``: a Redis stream per queue, acknowledged after the task.

Sending is taskiq-redis's ``RedisStreamBroker.kick`` (``XADD`` to the stream
named after the queue). Receiving is this module's: workers read the stream
through one consumer group, ``XREADGROUP`` up to ``read_count`` (100) entries
at a time, and an entry stays pending (owned by its worker) until the receiver
acknowledges it, which taskiq does after the task ran and its result was
stored. Then the entry is acknowledged and deleted at once (``XACK`` and
``XDEL`` in one script, atomically), so the stream holds only work not yet
done; entries acknowledged while another acknowledgement is on its way go
together in the next round trip.

- **A worker that dies** (killed, out of memory, its machine gone) leaves its
  entries pending. A live worker renews its hold on every entry it has every
  third of ``redelivery_timeout`` (``XCLAIM ... JUSTID``, which does not count
  as a delivery); an entry nobody renewed for ``redelivery_timeout`` is claimed
  by another worker (``XPENDING`` ... ``IDLE``, then ``XCLAIM``, which only one
  claimer wins) and runs there again. A long task, or one waiting for its
  countdown, is therefore never handed out twice while its worker lives.
- **A message that kills every worker that takes it** would come back
  forever: an entry delivered ``max_deliveries`` times already is moved to the
  dead letters instead (the stream ``<queue>.dead_letter``), with one log line.
  An entry taken over from a dead worker runs alone: this worker waits until
  its other messages are settled before handing it out, and takes nothing else
  until it is settled (each wait ends after ten redelivery timeouts at most),
  so if it kills this worker too, only its own count grows (the messages that
  shared the first dead worker with it count that one death, and then run
  alone once each).
- **A message the receiver refuses** (``Delivery.reject``) goes to the same
  dead letters, with its reason.

taskiq-redis's own ``listen`` claims idle entries only after a read that
returned something, so on a quiet queue a dead worker's task waited for the
next message; it counts no deliveries, keeps every acknowledged entry in the
stream, and renews nothing. This module replaces it, on redis-py's public API.
"""

import asyncio
import time
from collections.abc import AsyncGenerator
from functools import partial
from logging import getLogger
from typing import Any, override

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from taskiq_redis import RedisStreamBroker

from spakky.dispatch.core.adapter import InvalidSettingsError, printable
from spakky.dispatch.taskiq.delivery import (
    DEAD_LETTER_MAXLEN,
    Delivery,
    dead_letter_fields,
    dead_letter_name,
    peek,
)

logger = getLogger(__name__)

CONSUMER_GROUP = "spakky-taskiq"
"""The consumer group every worker of a queue reads its stream through."""

DATA_FIELD = b"data"
"""The stream entry field holding the message (taskiq-redis's)."""

RECLAIM_BATCH = 10
"""Idle entries one worker looks at at a time (it takes over one of them)."""

READ_COUNT = 100
"""Entries one read takes at most, unless the broker is given ``read_count``
(taskiq-redis's default too); those not yet handed out are renewed as well."""

ACK_BATCH = 500
"""Entries acknowledged (and deleted) in one round trip at most."""

ACK_SCRIPT = """
redis.call('XACK', KEYS[1], ARGV[1], unpack(ARGV, 2))
return redis.call('XDEL', KEYS[1], unpack(ARGV, 2))
"""
"""Acknowledges (group ``ARGV[1]``) and deletes entries ``ARGV[2:]`` of stream
``KEYS[1]``; a script runs atomically, as ``MULTI``/``EXEC`` would."""

ACK_DRAIN_TIMEOUT = 5.0
"""Seconds shutdown waits for acknowledgements on their way."""

READ_BLOCK = 1.0
"""Longest wait of one stream read, seconds."""

OUTAGE_PAUSE = 1.0
"""Seconds between two reads while Redis cannot be reached."""

SETTLE_POLL = 0.05
"""Seconds between two looks at whether a worker's other messages are settled."""

ISOLATION_LIMIT = 10
"""Redelivery timeouts a taken-over message waits at most to run alone."""

_OUTAGES = (RedisConnectionError, RedisTimeoutError, OSError)


class StreamDelivery(Delivery):
    """A ``Delivery`` of a stream entry."""

    entry: bytes
    """The entry's id in the stream."""


class RedisStreamQueueBroker(RedisStreamBroker):
    """taskiq-redis's stream broker, with the delivery guarantees of this module."""

    redelivery_timeout: float
    """Seconds an entry may go unrenewed before another worker takes it."""

    max_deliveries: int
    """Deliveries of one entry before it is dead-lettered instead."""

    dead_letters: str
    """The stream rejected and undeliverable entries go to."""

    def __init__(
        self,
        url: str,
        *,
        queue_name: str,
        redelivery_timeout: float,
        max_deliveries: int,
        read_count: int = READ_COUNT,
        **connection_kwargs: Any,
    ) -> None:
        super().__init__(
            url,
            queue_name=queue_name,
            consumer_group_name=CONSUMER_GROUP,
            consumer_id="0",  # a group made after the first sends still sees them
            xread_block=int(min(READ_BLOCK, redelivery_timeout / 4) * 1000) or 1,
            xread_count=read_count,
            idle_timeout=int(redelivery_timeout * 1000),
            **connection_kwargs,
        )
        self.redelivery_timeout = redelivery_timeout
        self.max_deliveries = max_deliveries
        self.dead_letters = dead_letter_name(queue_name)
        self._held: set[bytes] = set()
        self._acking: list[tuple[bytes, asyncio.Future[None]]] = []
        self._acker: asyncio.Task[None] | None = None
        self._renewer: asyncio.Task[None] | None = None
        self._redis = self._own_client()
        self._ack_script: AsyncScript | None = self._redis.register_script(ACK_SCRIPT)

    def _own_client(self) -> Redis:
        """A client keeping one connection for this broker's own commands
        (acknowledgements, renewals): no pool checkout per command."""
        return Redis(
            connection_pool=self.connection_pool, single_connection_client=True
        )

    @override
    async def startup(self) -> None:
        """Create the stream and its consumer group; refuse a key of another type.

        Raises:
            InvalidSettingsError: The queue's Redis key holds something
                other than a stream (the list of the list broker, say).
        """
        await super().startup()
        # A client of this start's loop (its connection lock is bound to one).
        self._redis = self._own_client()
        if self._ack_script is not None:
            self._ack_script = self._redis.register_script(ACK_SCRIPT)
        kind = await self._redis.type(self.queue_name)
        if kind not in (b"stream", "stream"):
            found = kind.decode() if isinstance(kind, bytes) else str(kind)
            raise InvalidSettingsError(
                f"Redis key {self.queue_name!r} is a {found}, not a stream; the "
                "list broker uses the same key: let list workers "
                "(SPAKKY_TASKIQ__REDIS_BROKER=list) empty it first, or set "
                "SPAKKY_TASKIQ__QUEUE to a new name"
            )

    @override
    async def shutdown(self) -> None:
        """Send the acknowledgements on their way, stop renewing held entries,
        then close the connections."""
        if self._acker is not None:
            await asyncio.wait([self._acker], timeout=ACK_DRAIN_TIMEOUT)
        if self._renewer is not None:
            self._renewer.cancel()
            self._renewer = None
        await self._redis.aclose()  # its kept connection back to the pool
        await super().shutdown()

    @override
    async def listen(self) -> AsyncGenerator[Delivery, None]:
        """Yield idle entries of dead workers first, then new entries, forever."""
        if self._renewer is None:
            self._renewer = asyncio.ensure_future(self._renew_forever())
            await self._forget_dead_consumers()
        claim_every = min(self.redelivery_timeout / 4, 5.0)
        next_claim = 0.0
        # One connection for this listen's reads, taken by its first command
        # (so an unreachable Redis is retried like any other outage).
        redis = Redis(
            connection_pool=self.connection_pool, single_connection_client=True
        )
        try:
            while True:
                try:
                    if time.monotonic() >= next_claim:
                        claimed = await self._claim_idle(redis)
                        if claimed is not None:
                            await self._settled(keep=claimed.entry)
                            yield claimed
                            await self._settled()
                            continue  # look for more at once
                        next_claim = time.monotonic() + claim_every
                    fetched: Any = await redis.xreadgroup(
                        self.consumer_group_name,
                        self.consumer_name,
                        {self.queue_name: ">"},
                        count=self.count,
                        block=self.block,
                    )
                except _OUTAGES as error:
                    logger.warning(
                        "Redis stream %s cannot be read (%s); retrying in %ss",
                        printable(self.queue_name),
                        type(error).__name__,
                        OUTAGE_PAUSE,
                    )
                    await asyncio.sleep(OUTAGE_PAUSE)
                    continue
                for _stream, entries in fetched or ():
                    self._held.update(entry_id for entry_id, _ in entries)  # renewed
                    for entry_id, fields in entries:
                        yield self._delivery(entry_id, fields, deliveries=1)
        finally:
            await redis.aclose()

    async def _claim_idle(self, redis: Redis) -> StreamDelivery | None:
        """Take over one entry nobody renewed for ``redelivery_timeout``.

        Entries delivered ``max_deliveries`` times already are dead-lettered on
        the way. None when there is nothing (left) to take over.
        """
        idle_ms = int(self.redelivery_timeout * 1000)
        pending: Any = await redis.xpending_range(
            self.queue_name,
            self.consumer_group_name,
            min="-",
            max="+",
            count=RECLAIM_BATCH,
            idle=idle_ms,
        )
        for entry in pending:
            entry_id: bytes = entry["message_id"]
            if entry_id in self._held:
                continue
            claimed: Any = await redis.xclaim(
                self.queue_name,
                self.consumer_group_name,
                self.consumer_name,
                min_idle_time=idle_ms,  # only one claimer wins
                message_ids=[entry_id],
            )
            # Redis 6.2 answers nil for an entry deleted while pending (7 drops it).
            found = [fields or {} for claimed_id, fields in claimed if claimed_id]
            if not found:
                continue
            delivered = int(entry["times_delivered"])
            if delivered >= self.max_deliveries:
                await self._give_up(entry_id, found[0], delivered)
                continue
            return self._delivery(entry_id, found[0], delivered + 1)
        return None

    async def _give_up(
        self, entry_id: bytes, fields: dict[bytes, bytes], delivered: int
    ) -> None:
        data = fields.get(DATA_FIELD, b"")
        reason = (
            f"delivered {delivered} times without being acknowledged (did it "
            "stop its worker each time?)"
        )
        self._held.add(entry_id)
        await self._reject(entry_id, data, delivered, reason)
        logger.warning(
            "Refused %s: %s; moved to %s",
            peek(self.formatter, data),
            reason,
            printable(self.dead_letters),
        )

    def _delivery(
        self, entry_id: bytes, fields: dict[bytes, bytes], deliveries: int
    ) -> StreamDelivery:
        data = fields.get(DATA_FIELD, b"")
        self._held.add(entry_id)
        return StreamDelivery(
            data=data,
            ack=partial(self._ack, entry_id),
            reject=partial(self._reject, entry_id, data, deliveries),
            dead_letters=self.dead_letters,
            deliveries=deliveries,
            entry=entry_id,
        )

    async def _settled(self, keep: bytes | None = None) -> None:
        """Wait until this worker holds no entry (but ``keep``), for a while.

        Waiting ends after ``ISOLATION_LIMIT`` redelivery timeouts regardless, so
        a message its receiver never settles cannot stop this worker for good.
        """
        deadline = time.monotonic() + ISOLATION_LIMIT * self.redelivery_timeout
        while self._held - {keep} and time.monotonic() < deadline:
            await asyncio.sleep(SETTLE_POLL)

    async def _ack(self, entry_id: bytes) -> None:
        """Acknowledge and delete the entry: its work is done.

        Returns once Redis has done both. Entries acknowledged while another
        acknowledgement is on its way go together in the next round trip
        (``_send_acks``), so a busy worker pays one round trip for many.
        """
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._acking.append((entry_id, done))
        if self._acker is None or self._acker.done():
            self._acker = acker = asyncio.ensure_future(self._send_acks())
            acker.add_done_callback(self._acks_sent)
        await done

    async def _send_acks(self) -> None:
        """Acknowledge and delete the waiting entries, up to ``ACK_BATCH`` per
        round trip, until none wait; each waiter learns how its own batch went."""
        while self._acking:
            batch = self._acking[:ACK_BATCH]
            del self._acking[:ACK_BATCH]
            try:
                await self._ack_entries([entry_id for entry_id, _ in batch])
            except Exception as error:
                _settle(batch, self._held, error)
                continue
            except BaseException:
                _settle(batch, self._held, None, cancel=True)
                raise
            _settle(batch, self._held, None)

    def _acks_sent(self, acker: "asyncio.Task[None]") -> None:
        """Forget the finished sender; if it was stopped, so are its waiters
        (their entries stay pending and come back, as from a stopped worker)."""
        if self._acker is not acker:
            return  # a new sender took over, waiters included
        self._acker = None
        if acker.cancelled():
            waiting = self._acking[:]
            self._acking.clear()
            _settle(waiting, self._held, None, cancel=True)

    async def _ack_entries(self, entries: list[bytes]) -> None:
        """``XACK`` then ``XDEL`` ``entries``, atomically, in one round trip.

        One script call (one command, one reply) costs the worker less than a
        ``MULTI`` pipeline; where scripts are not allowed (an ACL without
        ``EVALSHA``, say), the pipeline is used from then on.
        """
        if self._ack_script is not None:
            try:
                await self._ack_script(
                    keys=[self.queue_name], args=[self.consumer_group_name, *entries]
                )
                return
            except ResponseError as error:
                if not _script_refused(error):
                    raise
                self._ack_script = None
                logger.warning(
                    "Redis refused the acknowledgement script (%s); acknowledging "
                    "with MULTI/EXEC instead",
                    printable(str(error), 120),
                )
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xack(self.queue_name, self.consumer_group_name, *entries)
            pipe.xdel(self.queue_name, *entries)
            await pipe.execute()

    async def _reject(
        self, entry_id: bytes, data: bytes, deliveries: int, reason: str
    ) -> None:
        """Move the entry to the dead letters (nothing if it is settled already)."""
        if entry_id not in self._held:
            return
        fields = dead_letter_fields(
            data, reason, f"{self.queue_name} {entry_id.decode()}", deliveries
        )
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.xadd(
                    self.dead_letters,
                    fields,  # type: ignore[arg-type]
                    maxlen=DEAD_LETTER_MAXLEN,
                    approximate=True,
                )
                pipe.xack(self.queue_name, self.consumer_group_name, entry_id)
                pipe.xdel(self.queue_name, entry_id)
                await pipe.execute()
        finally:
            self._held.discard(entry_id)

    async def _forget_dead_consumers(self) -> None:
        """Drop consumers of the group that hold nothing and have not read for
        ``redelivery_timeout`` (workers gone), so restarts do not pile them up.

        A consumer that was only slow is created again by its next read.
        """
        idle_ms = self.redelivery_timeout * 1000
        redis = self._redis
        try:
            consumers: Any = await redis.xinfo_consumers(
                self.queue_name, self.consumer_group_name
            )
            for consumer in consumers:
                if consumer["pending"] == 0 and consumer["idle"] > idle_ms:
                    await redis.xgroup_delconsumer(
                        self.queue_name, self.consumer_group_name, consumer["name"]
                    )
        except RedisError as error:
            logger.warning(
                "Could not tidy the consumers of %s (%s)",
                printable(self.queue_name),
                type(error).__name__,
            )

    async def _renew_forever(self) -> None:
        """Renew this worker's hold on its entries every third of the timeout."""
        while True:
            await asyncio.sleep(self.redelivery_timeout / 3)
            await self.renew()

    async def renew(self) -> None:
        """Reset the idle time of every entry this worker holds (one ``XCLAIM``)."""
        held: list[Any] = [*self._held]
        if not held:
            return
        try:
            await self._redis.xclaim(
                self.queue_name,
                self.consumer_group_name,
                self.consumer_name,
                min_idle_time=0,
                message_ids=held,
                justid=True,
            )
        except _OUTAGES as error:
            logger.warning(
                "Could not renew %d held message(s) of %s (%s); another worker "
                "may take them over",
                len(held),
                printable(self.queue_name),
                type(error).__name__,
            )


def _settle(
    batch: list[tuple[bytes, "asyncio.Future[None]"]],
    held: set[bytes],
    error: Exception | None,
    *,
    cancel: bool = False,
) -> None:
    """Tell every waiter of ``batch`` how its acknowledgement went."""
    for entry_id, done in batch:
        held.discard(entry_id)
        if done.done():  # its waiter was cancelled
            continue
        if cancel:
            done.cancel()
        elif error is not None:
            done.set_exception(error)
        else:
            done.set_result(None)


def _script_refused(error: ResponseError) -> bool:
    """Whether ``error`` says scripts may not run here (not that one failed)."""
    text = str(error)
    return text.startswith("NOPERM") or "unknown command" in text
