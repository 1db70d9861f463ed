"""The Redis brokers on a real Redis: acknowledgement, reclaim, limits, dead letters.

Each test uses streams of its own on the shared Redis (DB 9) and deletes them.
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis
from taskiq import TaskiqMessage

from spakky.dispatch.core import InvalidSettingsError
from spakky.dispatch.taskiq import (
    Delivery,
    RedisListQueueBroker,
    RedisStreamQueueBroker,
    stream_broker,
)

from .conftest import REDIS_URL as URL

pytestmark = pytest.mark.broker

CLOSED = "redis://127.0.0.1:1/0"


@pytest.fixture
def queue(redis_queue: str) -> str:
    """A queue name of this test; its stream and dead letters are deleted after."""
    return redis_queue


def _stream(queue: str, *, timeout: float = 5.0, limit: int = 5, url: str = URL) -> Any:
    return RedisStreamQueueBroker(
        url, queue_name=queue, redelivery_timeout=timeout, max_deliveries=limit
    )


async def _send(broker: Any, job: str) -> None:
    message = TaskiqMessage(
        task_id=job, task_name="m.C.t", labels={}, args=[job], kwargs={}
    )
    await broker.kick(broker.formatter.dumps(message))


async def _next(deliveries: AsyncIterator[Delivery], timeout: float = 5.0) -> Delivery:
    return await asyncio.wait_for(anext(deliveries), timeout)


def _client() -> "redis.Redis[bytes]":
    return redis.Redis.from_url(URL)


def _pending(queue: str) -> int:
    return int(_client().xpending(queue, "spakky-taskiq")["pending"])


def test_stream_sent_before_any_worker_expect_delivered_then_acked(queue: str) -> None:
    """A message sent before the group exists is still delivered; ack deletes it."""

    async def scenario() -> Delivery:
        sender = _stream(queue)
        await _send(sender, "early")  # XADD only: no group yet
        worker = _stream(queue)
        await worker.startup()
        try:
            delivery = await _next(worker.listen())
            assert (delivery.deliveries, _pending(queue)) == (1, 1)
            await delivery.ack()
            return delivery
        finally:
            await worker.shutdown()
            await sender.shutdown()

    delivery = asyncio.run(scenario())
    assert b'"early"' in delivery.data
    assert delivery.dead_letters == f"{queue}.dead_letter"
    assert (_client().xlen(queue), _pending(queue)) == (0, 0)


def test_stream_several_messages_expect_each_delivered_once_in_order(
    queue: str,
) -> None:
    """Messages come one read at a time, in order; a second listen shares the renewal."""

    async def scenario() -> list[bytes]:
        worker = _stream(queue)
        await worker.startup()
        try:
            for job in ("a", "b", "c"):
                await _send(worker, job)
            deliveries = worker.listen()
            got = [await _next(deliveries) for _ in range(3)]
            renewer = worker._renewer
            with pytest.raises(TimeoutError):  # nothing left; renewal not doubled
                await _next(worker.listen(), timeout=0.3)
            assert worker._renewer is renewer
            for delivery in got:
                await delivery.ack()
            return [delivery.data for delivery in got]
        finally:
            await worker.shutdown()

    data = asyncio.run(scenario())
    assert [b'"a"' in data[0], b'"b"' in data[1], b'"c"' in data[2]] == [True] * 3
    assert (_client().xlen(queue), _pending(queue)) == (0, 0)


def test_stream_reject_expect_dead_letter_with_reason_once(queue: str) -> None:
    """A rejected entry moves to the dead letters with why; settling again is a no-op."""

    async def scenario() -> None:
        worker = _stream(queue)
        await worker.startup()
        try:
            await _send(worker, "bad")
            delivery = await _next(worker.listen())
            await delivery.reject("cannot be decoded, not JSON\nat 1")
            await delivery.reject("again")
            await delivery.ack()
        finally:
            await worker.shutdown()

    asyncio.run(scenario())
    [(_, fields)] = _client().xrange(f"{queue}.dead_letter")
    assert b'"bad"' in fields[b"data"]
    assert fields[b"reason"] == b"cannot be decoded, not JSON\\nat 1"
    assert fields[b"source"].startswith(queue.encode() + b" ")
    assert fields[b"deliveries"] == b"1"
    assert float(fields[b"at"]) > 0
    assert (_client().xlen(queue), _pending(queue)) == (0, 0)


def test_stream_worker_gone_expect_entry_claimed_by_another_counted(
    queue: str,
) -> None:
    """An entry its worker never settled goes to another worker after the timeout."""

    async def scenario() -> tuple[Delivery, float]:
        first, second = _stream(queue, timeout=0.3), _stream(queue, timeout=0.3)
        await first.startup()
        await second.startup()
        try:
            await _send(first, "orphan")
            taken = await _next(first.listen())
            await first.shutdown()  # dies holding it: no ack, no renewal
            loop = asyncio.get_running_loop()
            started = loop.time()
            again = await _next(second.listen())
            waited = loop.time() - started
            assert again.data == taken.data
            await again.ack()
            return again, waited
        finally:
            await second.shutdown()

    again, waited = asyncio.run(scenario())
    assert again.deliveries == 2
    assert 0.2 <= waited < 3.0
    assert (_client().xlen(queue), _pending(queue)) == (0, 0)


def test_stream_held_entry_renewed_expect_not_claimed(queue: str) -> None:
    """While its worker lives, an entry is renewed and no other worker takes it."""

    async def scenario() -> None:
        holder, other = _stream(queue, timeout=0.3), _stream(queue, timeout=0.3)
        await holder.startup()
        await other.startup()
        try:
            await _send(holder, "long")
            held = await _next(holder.listen())
            with pytest.raises(TimeoutError):
                await _next(other.listen(), timeout=1.2)  # four timeouts pass
            await held.ack()
        finally:
            await holder.shutdown()
            await other.shutdown()

    asyncio.run(scenario())
    assert (_client().xlen(queue), _pending(queue)) == (0, 0)


def test_stream_delivered_max_times_expect_dead_lettered_with_one_line(
    queue: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An entry that stopped its workers ``max_deliveries`` times is not run again."""

    async def scenario() -> None:
        first, second = (
            _stream(queue, timeout=0.2, limit=1),
            _stream(queue, timeout=0.2, limit=1),
        )
        await first.startup()
        await second.startup()
        try:
            await _send(first, "killer")
            await _next(first.listen())
            await first.shutdown()
            with pytest.raises(TimeoutError):
                await _next(second.listen(), timeout=1.0)
        finally:
            await second.shutdown()

    with caplog.at_level(logging.WARNING, logger=stream_broker.__name__):
        asyncio.run(scenario())
    [record] = caplog.records
    assert record.getMessage() == (
        "Refused task m.C.t[killer]: delivered 1 times without being acknowledged "
        f"(did it stop its worker each time?); moved to {queue}.dead_letter"
    )
    [(_, fields)] = _client().xrange(f"{queue}.dead_letter")
    assert fields[b"deliveries"] == b"1"
    assert (_client().xlen(queue), _pending(queue)) == (0, 0)


def test_stream_key_of_another_type_expect_configuration_error(queue: str) -> None:
    """A list left by the list broker under the queue's name stops startup, saying so."""
    _client().lpush(queue, b"old")

    async def scenario() -> None:
        broker = _stream(queue)
        try:
            await broker.startup()
        finally:
            await broker.shutdown()

    with pytest.raises(InvalidSettingsError) as caught:
        asyncio.run(scenario())
    assert f"Redis key {queue!r} is a list, not a stream" in str(caught.value)
    assert "SPAKKY_TASKIQ__REDIS_BROKER=list" in str(caught.value)


def test_stream_redis_unreachable_expect_warning_and_reading_retried(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A Redis outage while listening: a warning per attempt, no crash."""
    monkeypatch.setattr(stream_broker, "OUTAGE_PAUSE", 0.05)

    async def scenario() -> None:
        broker = _stream("q", timeout=0.2, url=CLOSED)
        try:
            with pytest.raises(TimeoutError):
                await _next(broker.listen(), timeout=0.5)
        finally:
            await broker.shutdown()

    with caplog.at_level(logging.WARNING, logger=stream_broker.__name__):
        asyncio.run(scenario())
    lines = {record.getMessage() for record in caplog.records}
    assert "Redis stream q cannot be read (ConnectionError); retrying in 0.05s" in lines


def test_stream_renew_unreachable_expect_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Renewal that cannot reach Redis says what may happen; nothing raises."""

    async def scenario() -> None:
        broker = _stream("q", url=CLOSED)
        await broker.renew()  # nothing held: nothing to do
        broker._held.add(b"1-0")
        await broker.renew()
        await broker.shutdown()

    with caplog.at_level(logging.WARNING, logger=stream_broker.__name__):
        asyncio.run(scenario())
    [record] = caplog.records
    assert record.getMessage() == (
        "Could not renew 1 held message(s) of q (ConnectionError); another worker "
        "may take them over"
    )


def test_list_broker_expect_deliveries_taken_and_rejects_kept(queue: str) -> None:
    """The list broker's deliveries are gone once received; refused ones are kept."""

    async def scenario() -> None:
        broker = RedisListQueueBroker(URL, queue_name=queue)
        await broker.startup()
        try:
            await _send(broker, "one")
            await _send(broker, "two")
            deliveries = broker.listen()
            first = await _next(deliveries)
            await first.ack()
            second = await _next(deliveries)
            await second.reject("refused")
        finally:
            await broker.shutdown()

    asyncio.run(scenario())
    assert _client().llen(queue) == 0
    [(_, fields)] = _client().xrange(f"{queue}.dead_letter")
    assert b'"two"' in fields[b"data"]
    assert (fields[b"reason"], fields[b"source"]) == (b"refused", queue.encode())


def test_stream_taken_over_entry_expect_run_alone(queue: str) -> None:
    """An entry taken over from a dead worker waits for this worker's other work.

    It is handed out only once the worker's other messages are settled, and
    nothing else is handed out until it is settled: if it kills this worker
    too, only its own delivery count grows.
    """

    async def scenario() -> tuple[int, int]:
        dead, alive = _stream(queue, timeout=0.3), _stream(queue, timeout=0.3)
        await dead.startup()
        await alive.startup()
        try:
            await _send(dead, "suspect")
            await _next(dead.listen())
            await dead.shutdown()  # died holding it
            deliveries = alive.listen()
            await _send(alive, "fresh")
            fresh = await _next(deliveries)
            waiting = asyncio.ensure_future(anext(deliveries))
            done, _ = await asyncio.wait({waiting}, timeout=1.0)
            assert not done  # the suspect is claimed but waits for "fresh"
            await fresh.ack()
            suspect = await asyncio.wait_for(waiting, 5)
            assert b'"suspect"' in suspect.data
            await _send(alive, "later")
            after = asyncio.ensure_future(anext(deliveries))
            done, _ = await asyncio.wait({after}, timeout=0.5)
            assert not done  # nothing else while the suspect runs
            await suspect.ack()
            later = await asyncio.wait_for(after, 5)
            await later.ack()
            return fresh.deliveries, suspect.deliveries
        finally:
            await alive.shutdown()

    assert asyncio.run(scenario()) == (1, 2)
    assert (_client().xlen(queue), _pending(queue)) == (0, 0)


class RaceLost:
    """A Redis stand-in where another worker wins every claim."""

    async def xpending_range(self, *args: object, **kwargs: object) -> object:
        return [
            {"message_id": b"1-0", "times_delivered": 1},
            {"message_id": b"2-0", "times_delivered": 1},
        ]

    async def xclaim(self, *args: object, **kwargs: object) -> object:
        return []


def test_stream_claim_lost_or_entry_held_expect_nothing_taken() -> None:
    """An entry this worker holds is never claimed again; a lost claim is skipped."""

    async def scenario() -> object:
        broker = _stream("q")
        broker._held.add(b"1-0")
        try:
            return await broker._claim_idle(RaceLost())
        finally:
            await broker.shutdown()

    assert asyncio.run(scenario()) is None


def test_stream_listen_expect_gone_idle_consumers_forgotten(queue: str) -> None:
    """Consumers that hold nothing and stopped reading are dropped; holders stay."""

    async def scenario() -> set[bytes]:
        worker = _stream(queue, timeout=0.2)
        await worker.startup()
        try:
            client = _client()
            await _send(worker, "done")
            [[_, [(done, _)]]] = client.xreadgroup(
                "spakky-taskiq", "ghost", {queue: ">"}, count=1
            )
            client.xack(queue, "spakky-taskiq", done)
            client.xdel(queue, done)
            await _send(worker, "held")
            client.xreadgroup("spakky-taskiq", "holder", {queue: ">"}, count=1)
            await asyncio.sleep(0.3)
            listening = asyncio.ensure_future(anext(worker.listen()))
            await asyncio.sleep(0.1)
            names = {c["name"] for c in client.xinfo_consumers(queue, "spakky-taskiq")}
            assert len(names) == 2  # ours and the holder: the ghost is gone
            held = await asyncio.wait_for(listening, 5)  # taken over from "holder"
            await held.ack()
            return names
        finally:
            await worker.shutdown()

    names = asyncio.run(scenario())
    assert b"ghost" not in names
    assert b"holder" in names


def test_stream_other_message_never_settled_expect_isolation_gives_up(
    queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A message whose receiver never settles it cannot stop the worker for good."""
    monkeypatch.setattr(stream_broker, "ISOLATION_LIMIT", 2)

    async def scenario() -> float:
        dead, alive = _stream(queue, timeout=0.2), _stream(queue, timeout=0.2)
        await dead.startup()
        await alive.startup()
        try:
            await _send(dead, "suspect")
            await _next(dead.listen())
            await dead.shutdown()
            deliveries = alive.listen()
            await _send(alive, "stuck")
            await _next(deliveries)  # never settled
            loop = asyncio.get_running_loop()
            started = loop.time()
            suspect = await _next(deliveries)
            assert suspect.deliveries == 2
            return loop.time() - started
        finally:
            await alive.shutdown()

    assert 0.3 <= asyncio.run(scenario()) < 3.0


def test_stream_acks_at_once_expect_one_round_trip_all_deleted(queue: str) -> None:
    """Acknowledgements made together go in one round trip; shutdown sends them."""

    async def scenario() -> list[list[bytes]]:
        worker = _stream(queue)
        await worker.startup()
        sent: list[list[bytes]] = []
        ack_entries = worker._ack_entries

        async def counted(entries: list[bytes]) -> None:
            sent.append(entries)
            await ack_entries(entries)

        worker._ack_entries = counted
        try:
            for job in ("a", "b", "c"):
                await _send(worker, job)
            deliveries = worker.listen()
            got = [await _next(deliveries) for _ in range(3)]
            await asyncio.gather(*(delivery.ack() for delivery in got[:2]))
            last = asyncio.ensure_future(got[2].ack())
            await asyncio.sleep(0)  # on its way, not yet sent
        finally:
            await worker.shutdown()
        assert last.done()
        assert not worker._held
        return sent

    sent = asyncio.run(scenario())
    assert [len(entries) for entries in sent] == [2, 1]
    assert (_client().xlen(queue), _pending(queue)) == (0, 0)


def test_stream_ack_script_refused_expect_transaction_and_one_line(
    queue: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Where Redis refuses scripts, entries are acknowledged with MULTI/EXEC."""

    async def refuse(**_: object) -> None:
        raise redis.exceptions.ResponseError(
            "NOPERM User w has no permissions to run the 'evalsha' command"
        )

    async def scenario() -> None:
        worker = _stream(queue)
        await worker.startup()
        worker._ack_script = refuse
        try:
            for job in ("a", "b"):
                await _send(worker, job)
            deliveries = worker.listen()
            for _ in range(2):
                await (await _next(deliveries)).ack()
            assert worker._ack_script is None
            await worker.shutdown()
            await worker.startup()  # started again: still no script
            assert worker._ack_script is None
        finally:
            await worker.shutdown()

    with caplog.at_level(logging.WARNING, logger=stream_broker.__name__):
        asyncio.run(scenario())
    [record] = caplog.records
    assert record.getMessage().startswith(
        "Redis refused the acknowledgement script (NOPERM User w has no"
    )
    assert (_client().xlen(queue), _pending(queue)) == (0, 0)


def test_stream_ack_failed_expect_error_raised_entry_left_pending(queue: str) -> None:
    """A failed acknowledgement raises in its waiter; the entry stays pending."""

    async def fail(**_: object) -> None:
        raise redis.exceptions.ResponseError("ERR something else")

    async def scenario() -> None:
        worker = _stream(queue)
        await worker.startup()
        worker._ack_script = fail
        try:
            await _send(worker, "a")
            delivery = await _next(worker.listen())
            with pytest.raises(redis.exceptions.ResponseError, match="something"):
                await delivery.ack()
            assert worker._ack_script is fail
            assert not worker._held
        finally:
            await worker.shutdown()

    asyncio.run(scenario())
    assert (_client().xlen(queue), _pending(queue)) == (1, 1)


def test_stream_ack_sender_stopped_expect_waiters_cancelled() -> None:
    """A stopped acknowledgement sender cancels its waiters (the entries come
    back, as from a stopped worker); the next acknowledgement starts a new one."""

    async def scenario() -> None:
        broker = _stream("q", url=CLOSED)
        sent: list[list[bytes]] = []

        async def record(entries: list[bytes]) -> None:
            sent.append(entries)

        broker._ack_entries = record
        broker._held.update({b"1-0", b"2-0"})
        first = asyncio.ensure_future(broker._ack(b"1-0"))
        await asyncio.sleep(0)  # queued; its sender not started yet
        stopped = broker._acker
        assert stopped is not None
        stopped.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        assert (broker._acker, broker._held) == (None, {b"2-0"})
        await broker._ack(b"2-0")
        assert (sent, broker._held) == ([[b"2-0"]], set())
        old_sender_done = asyncio.get_running_loop().create_future()
        broker._acks_sent(old_sender_done)  # type: ignore[arg-type]  # not current
        await broker.shutdown()

    asyncio.run(scenario())


def test_stream_ack_sender_stopped_mid_send_expect_batch_cancelled() -> None:
    """A sender stopped while its batch is on its way cancels that batch's waiters."""

    async def scenario() -> None:
        broker = _stream("q", url=CLOSED)
        started = asyncio.Event()

        async def hang(entries: list[bytes]) -> None:
            started.set()
            await asyncio.sleep(60)

        broker._ack_entries = hang
        broker._held.add(b"1-0")
        waiter = asyncio.ensure_future(broker._ack(b"1-0"))
        await started.wait()
        sender = broker._acker
        assert sender is not None
        sender.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert (broker._acker, broker._held) == (None, set())
        await broker.shutdown()

    asyncio.run(scenario())


def test_stream_ack_waiter_cancelled_expect_entry_still_acknowledged() -> None:
    """A waiter cancelled while its batch is on its way does not stop the batch."""

    async def scenario() -> None:
        broker = _stream("q", url=CLOSED)
        release = asyncio.Event()
        sent: list[list[bytes]] = []

        async def gated(entries: list[bytes]) -> None:
            await release.wait()
            sent.append(entries)

        broker._ack_entries = gated
        broker._held.add(b"1-0")
        waiter = asyncio.ensure_future(broker._ack(b"1-0"))
        await asyncio.sleep(0.01)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        release.set()
        await broker.shutdown()
        assert (sent, broker._held, broker._acker) == ([[b"1-0"]], set(), None)

    asyncio.run(scenario())
