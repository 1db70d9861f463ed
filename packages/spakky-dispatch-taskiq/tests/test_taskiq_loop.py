"""BrokerLoop: broker calls run on the loop the broker was started on."""

import asyncio
import threading
from collections.abc import Callable

import pytest
from taskiq import AsyncBroker

from spakky.dispatch.core import BrokerUnavailableError
from spakky.dispatch.taskiq import BrokerLoop, BrokerLoopBlockedError
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


def test_call_from_fresh_event_loops_expect_same_broker_loop(loops: Loops) -> None:
    """Async callers on short-lived loops (asyncio.run) all reach the broker's loop."""
    broker = RecordingBroker()
    loop = loops(broker)
    first, _ = asyncio.run(loop.call(_where))
    second, _ = asyncio.run(loop.call(_where))
    assert first is second
    assert broker.startups == 1


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
