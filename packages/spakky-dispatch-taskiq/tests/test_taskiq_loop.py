"""BrokerLoop: broker calls run on the loop the broker was started on."""

import asyncio
import logging
import threading
from collections.abc import Callable

import pytest
from taskiq import AsyncBroker

from spakky.dispatch.core import BrokerUnavailableError
from spakky.dispatch.taskiq import (
    BrokerLoop,
    BrokerLoopBlockedError,
    BrokerLoopStoppedError,
)
from spakky.dispatch.taskiq import loop as loop_module

from .taskiq_fakes import RecordingBroker

type Loops = Callable[..., BrokerLoop]


async def _where(_: AsyncBroker) -> tuple[asyncio.AbstractEventLoop, threading.Thread]:
    return asyncio.get_running_loop(), threading.current_thread()


def test_run_from_sync_code_expect_broker_started_once_on_private_loop(
    loops: Loops,
) -> None:
    """The first call starts the broker on a loop thread of its own; later ones reuse it."""
    broker = RecordingBroker()
    loop = loops(broker)
    first_loop, thread = loop.run(_where)
    second_loop, _ = loop.run(_where)
    assert first_loop is second_loop
    assert thread is not threading.current_thread()
    assert broker.startups == 1


def test_call_from_a_running_loop_expect_broker_started_on_that_loop(
    loops: Loops,
) -> None:
    """An awaited first call starts the broker on the caller's loop: no hop."""
    broker = RecordingBroker()
    loop = loops(broker)

    async def scenario() -> tuple[bool, bool, int]:
        here = asyncio.get_running_loop()
        results = await asyncio.gather(*(loop.call(_where) for _ in range(5)))
        return (
            all(where is here for where, _ in results),
            all(thread is threading.current_thread() for _, thread in results),
            broker.startups,
        )

    assert asyncio.run(scenario()) == (True, True, 1)


def test_caller_loop_ends_expect_broker_shut_down_there_and_restarted_next(
    loops: Loops,
) -> None:
    """asyncio.run ending shuts the broker down on its loop; the next call
    starts it again where it is made (a new loop, or the sync path's thread)."""
    broker = RecordingBroker()
    loop = loops(broker)
    first, _ = asyncio.run(loop.call(_where))
    assert (broker.startups, broker.shutdowns) == (1, 1)
    second, _ = asyncio.run(loop.call(_where))
    assert second is not first
    assert (broker.startups, broker.shutdowns) == (2, 2)
    third, thread = loop.run(_where)
    assert third not in (first, second)
    assert thread is not threading.current_thread()
    assert broker.startups == 3


def test_broker_loop_own_expect_awaited_calls_hop_to_one_private_loop(
    loops: Loops,
) -> None:
    """SPAKKY_TASKIQ__BROKER_LOOP=own: short-lived loops all reach one private loop."""
    broker = RecordingBroker()
    loop = loops(broker, broker_loop="own")
    first, thread = asyncio.run(loop.call(_where))
    second, _ = asyncio.run(loop.call(_where))
    assert first is second
    assert thread is not threading.current_thread()
    assert broker.startups == 1


def test_second_loop_or_thread_while_broker_on_caller_loop_expect_hop_there(
    loops: Loops,
) -> None:
    """Another thread (sync, or on a loop of its own) reaches the caller's loop."""
    broker = RecordingBroker()
    loop = loops(broker)

    async def scenario() -> list[bool]:
        here = asyncio.get_running_loop()
        await loop.call(_where)
        from_sync, _ = await asyncio.to_thread(loop.run, _where)
        from_other, _ = await asyncio.to_thread(asyncio.run, loop.call(_where))
        return [from_sync is here, from_other is here, broker.startups == 1]

    assert asyncio.run(scenario()) == [True, True, True]


def test_sync_call_on_the_callers_loop_expect_blocked_error(loops: Loops) -> None:
    """A blocking read on the loop the broker lives on is refused, not a deadlock."""
    loop = loops()

    async def scenario() -> None:
        await loop.call(_where)
        loop.run(_where)

    with pytest.raises(BrokerLoopBlockedError, match="BROKER_LOOP=own"):
        asyncio.run(scenario())


def test_sync_send_on_the_callers_loop_expect_started_there_without_waiting(
    loops: Loops,
) -> None:
    """run_or_defer on the broker's loop starts the publish there and returns."""
    broker = RecordingBroker()
    loop = loops(broker)

    async def publish(target: AsyncBroker) -> None:
        target.loops.append(asyncio.get_running_loop())  # type: ignore[attr-defined]

    async def scenario() -> tuple[int, bool]:
        await loop.call(_where)
        loop.run_or_defer(publish)
        before = len(broker.loops)
        await asyncio.sleep(0)
        return before, broker.loops == [asyncio.get_running_loop()]

    assert asyncio.run(scenario()) == (0, True)
    loop.run_or_defer(publish)  # no loop here: waits on the private loop
    assert len(broker.loops) == 2


def test_deferred_send_fails_outside_a_task_expect_logged(
    loops: Loops, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed publish nobody waits for is logged, once."""
    # Celery's worker tests configure logging in this process and disable
    # loggers that existed then; this one must still reach caplog.
    logger = logging.getLogger("spakky.dispatch.taskiq.loop")
    monkeypatch.setattr(logger, "disabled", False)
    monkeypatch.setattr(logger, "propagate", True)
    caplog.set_level(logging.WARNING, logger=logger.name)
    loop = loops()

    async def failing(_: AsyncBroker) -> None:
        raise ConnectionRefusedError("gone")

    async def scenario() -> None:
        await loop.call(_where)
        loop.run_or_defer(failing)
        await asyncio.sleep(0)

    asyncio.run(scenario())
    assert "publish started on the broker's loop failed" in caplog.text


def test_deferred_sends_collected_expect_awaited_by_settle(loops: Loops) -> None:
    """Inside an endpoint the publishes are collected; settle_sends gives the error."""
    loop = loops()

    async def failing(_: AsyncBroker) -> None:
        raise ConnectionRefusedError("gone")

    async def scenario() -> BaseException | None:
        await loop.call(_where)
        sends: list[asyncio.Task[object]] = []
        token = loop_module.DEFERRED_SENDS.set(sends)  # type: ignore[arg-type]
        try:
            loop.run_or_defer(failing)
        finally:
            loop_module.DEFERRED_SENDS.reset(token)
        assert len(sends) == 1
        return await loop_module.settle_sends(sends)  # type: ignore[arg-type]

    assert isinstance(asyncio.run(scenario()), ConnectionRefusedError)


def test_callers_loop_stopped_not_closed_expect_stopped_error(loops: Loops) -> None:
    """A broker left on an idle loop cannot be reached: a clear error, then an
    orderly end of that loop shuts the broker down."""
    broker = RecordingBroker()
    loop = loops(broker)
    idle = asyncio.new_event_loop()
    try:
        idle.run_until_complete(loop.call(_where))
        with pytest.raises(BrokerLoopStoppedError, match="not running"):
            loop.run(_where)
        with pytest.raises(BrokerLoopStoppedError):
            asyncio.run(loop.call(_where))
        idle.run_until_complete(_cancel_others())
        assert broker.shutdowns == 1
    finally:
        idle.close()
    where, _ = loop.run(_where)
    assert where is not idle


def test_stop_with_broker_on_an_idle_loop_expect_forgotten_and_started_anew(
    loops: Loops,
) -> None:
    """Stopping cannot run the shutdown on an idle loop: the broker is left
    there, and the next call starts it anew instead of hopping onto it."""
    broker = RecordingBroker()
    loop = loops(broker)
    idle = asyncio.new_event_loop()
    try:
        idle.run_until_complete(loop.call(_where))
        loop.stop()
        where, _ = loop.run(_where)
        assert where is not idle
        assert broker.startups == 2
        idle.run_until_complete(_cancel_others())
        assert broker.shutdowns == 0  # the watcher no longer owns it
    finally:
        idle.close()


def test_callers_loop_closed_without_cleanup_expect_started_again(
    loops: Loops,
) -> None:
    """A loop closed with the broker on it is forgotten; the next call starts anew."""
    broker = RecordingBroker()
    loop = loops(broker)
    closed = asyncio.new_event_loop()
    closed.run_until_complete(loop.call(_where))
    closed.close()
    where, _ = asyncio.run(loop.call(_where))
    assert where is not closed
    assert broker.startups == 2


async def _cancel_others() -> None:
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for each in others:
        each.cancel()
    await asyncio.gather(*others, return_exceptions=True)


def test_stop_from_another_thread_expect_broker_shut_down_on_callers_loop(
    loops: Loops,
) -> None:
    """Stopping the application shuts down a broker living on a running caller's loop."""
    broker = RecordingBroker()
    loop = loops(broker)
    owner = asyncio.new_event_loop()
    thread = threading.Thread(target=owner.run_forever, daemon=True)
    thread.start()
    try:
        where, _ = asyncio.run_coroutine_threadsafe(loop.call(_where), owner).result(5)
        assert where is owner
        loop.stop()
        assert broker.shutdowns == 1
        again, _ = loop.run(_where)
        assert again is not owner
    finally:
        owner.call_soon_threadsafe(owner.stop)
        thread.join(timeout=5)
        owner.close()


def test_stop_on_the_callers_loop_expect_shut_down_when_the_loop_goes_on(
    loops: Loops,
) -> None:
    """Stopped from code running on that loop, the broker shuts down right after."""
    broker = RecordingBroker()
    loop = loops(broker)

    async def scenario() -> int:
        await loop.call(_where)
        loop.stop()
        for _ in range(10):
            await asyncio.sleep(0)
        return broker.shutdowns

    assert asyncio.run(scenario()) == 1
    assert broker.shutdowns == 1


def test_startup_on_callers_loop_fails_expect_error_then_retried(
    loops: Loops,
) -> None:
    """A broker that cannot start on the caller's loop fails the call, not the next."""
    broker = RecordingBroker(fail_startup=ConnectionRefusedError("refused"))
    loop = loops(broker)
    with pytest.raises(BrokerUnavailableError, match="cannot start"):
        asyncio.run(loop.call(_where))
    broker.fail_startup = None
    asyncio.run(loop.call(_where))
    assert broker.startups == 2


def test_calls_while_starting_on_callers_loop_expect_wait_then_that_loop(
    loops: Loops,
) -> None:
    """While an awaited call starts the broker, other callers wait for it; a
    sync call on the starting loop itself is refused."""

    class Gated(RecordingBroker):
        gate: asyncio.Event

        async def startup(self) -> None:
            await self.gate.wait()
            await super().startup()

    broker = Gated()
    loop = loops(broker)

    async def scenario() -> list[bool]:
        here = asyncio.get_running_loop()
        broker.gate = asyncio.Event()
        first = asyncio.create_task(loop.call(_where))
        second = asyncio.create_task(loop.call(_where))
        await asyncio.sleep(0)
        with pytest.raises(BrokerLoopBlockedError):
            loop.run(_where)
        elsewhere = asyncio.create_task(asyncio.to_thread(loop.run, _where))
        broker.gate.set()
        results = [await first, await second, await elsewhere]
        return [where is here for where, _ in results] + [broker.startups == 1]

    assert asyncio.run(scenario()) == [True, True, True, True]


def test_call_on_the_broker_loop_expect_run_directly(loops: Loops) -> None:
    """A caller already on the broker's loop awaits the work itself."""
    loop = loops()

    async def nested(_: AsyncBroker) -> bool:
        here = asyncio.get_running_loop()
        there, _ = await loop.call(_where)
        return here is there

    assert loop.run(nested) is True


def test_run_on_the_broker_loop_expect_blocked_error(loops: Loops) -> None:
    """Blocking on the broker's own loop would deadlock: it is refused instead."""
    loop = loops()

    async def blocking(_: AsyncBroker) -> None:
        loop.run(_where)

    with pytest.raises(BrokerLoopBlockedError, match="await it instead"):
        loop.run(blocking)


def test_startup_fails_expect_unavailable_then_retried(loops: Loops) -> None:
    """A broker that cannot start fails the call; the next call tries again."""
    broker = RecordingBroker(fail_startup=ConnectionRefusedError("refused"))
    loop = loops(broker)
    with pytest.raises(BrokerUnavailableError, match="cannot start the taskiq broker"):
        loop.run(_where)
    broker.fail_startup = None
    loop.run(_where)
    assert broker.startups == 2


def test_startup_hangs_expect_unavailable_after_timeout(loops: Loops) -> None:
    """A broker that does not finish starting within connect_timeout fails the call."""

    class Hanging(RecordingBroker):
        async def startup(self) -> None:
            await asyncio.sleep(5)

    with pytest.raises(BrokerUnavailableError, match=r"did not start within 0\.05s"):
        loops(Hanging(), connect_timeout="0.05").run(_where)


def test_stop_expect_broker_shut_down_and_restartable(loops: Loops) -> None:
    """Stopping shuts down a broker we started; a later call starts it again."""
    broker = RecordingBroker()
    loop = loops(broker)
    loop.stop()  # nothing started yet: nothing to do
    assert broker.shutdowns == 0
    loop.run(_where)
    loop.stop()
    assert broker.shutdowns == 1
    loop.run(_where)
    assert broker.startups == 2


def test_stop_shutdown_fails_expect_loop_closed_anyway(loops: Loops) -> None:
    """A broker that fails to shut down is logged; the loop thread still ends."""

    class Stubborn(RecordingBroker):
        async def shutdown(self) -> None:
            raise RuntimeError("stuck")

    loop = loops(Stubborn())
    _, thread = loop.run(_where)
    loop.stop()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_broker_started_elsewhere_expect_that_loop_used_and_left_running(
    loops: Loops,
) -> None:
    """A broker started by its owner (a taskiq worker) is used on the owner's loop."""
    broker = RecordingBroker()
    loop = loops(broker)
    owner = asyncio.new_event_loop()
    thread = threading.Thread(target=owner.run_forever, daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(broker.startup(), owner).result(timeout=5)
        where, _ = loop.run(_where)
        assert where is owner
        loop.stop()
        assert broker.shutdowns == 0
        asyncio.run_coroutine_threadsafe(broker.shutdown(), owner).result(timeout=5)
        restarted, _ = loop.run(_where)
        assert restarted is not owner
    finally:
        owner.call_soon_threadsafe(owner.stop)
        thread.join(timeout=5)
        owner.close()


def test_after_fork_expect_parent_loop_forgotten(
    loops: Loops, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a forked child the parent's loop thread does not exist: start anew."""
    broker = RecordingBroker()
    loop = loops(broker)
    parent, _ = loop.run(_where)
    real_pid = loop_module.os.getpid()
    monkeypatch.setattr(loop_module.os, "getpid", lambda: real_pid + 1)
    child, _ = loop.run(_where)
    assert child is not parent
    assert broker.startups == 2
