"""``EventLoopRunner``: one long-lived event loop per process for async tasks."""

import asyncio
import os
import signal
import threading
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from inspect import CORO_CLOSED, getcoroutinestate
from types import SimpleNamespace

import pytest

import spakky.dispatch.core.loop as loop_module
from spakky.dispatch.core.adapter import EventLoopReentryError, EventLoopRunner

THREAD_NAME = "spakky-dispatch-event-loop"


@pytest.fixture
def runner() -> Iterator[EventLoopRunner]:
    """A runner closed after the test."""
    runner = EventLoopRunner()
    yield runner
    runner.close()


def _loop_threads() -> int:
    return sum(thread.name == THREAD_NAME for thread in threading.enumerate())


def _stop(loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
    loop.call_soon_threadsafe(loop.stop)
    thread.join()
    loop.close()


async def _answer(value: int) -> int:
    await asyncio.sleep(0)
    return value


async def _current_loop_and_thread() -> tuple[asyncio.AbstractEventLoop, str]:
    return asyncio.get_running_loop(), threading.current_thread().name


async def _fail() -> None:
    raise ArithmeticError("inside the loop")


def test_runner_run_expect_coroutine_result(runner: EventLoopRunner) -> None:
    """``run`` returns what the coroutine returns."""
    assert runner.run(_answer(7)) == 7


def test_runner_run_failing_coroutine_expect_its_exception(
    runner: EventLoopRunner,
) -> None:
    """An exception raised in the coroutine reaches the caller unchanged."""
    with pytest.raises(ArithmeticError, match="inside the loop"):
        runner.run(_fail())


def test_runner_run_not_overlapping_expect_same_loop_driven_by_caller(
    runner: EventLoopRunner,
) -> None:
    """Calls that do not overlap drive the one loop on the calling thread: no hop."""
    before = _loop_threads()
    first_loop, first_thread = runner.run(_current_loop_and_thread())
    second_loop, second_thread = runner.run(_current_loop_and_thread())
    assert first_loop is second_loop
    assert first_thread == second_thread == threading.current_thread().name
    assert not runner.on_own_thread
    assert _loop_threads() == before
    assert not first_loop.is_running()


def test_runner_loop_asked_for_expect_same_loop_on_dedicated_thread(
    runner: EventLoopRunner,
) -> None:
    """Once ``loop`` is asked for, the same loop runs on the runner's own thread."""
    driven, _ = runner.run(_current_loop_and_thread())
    assert runner.loop is driven
    assert runner.on_own_thread
    assert driven.is_running()
    first_loop, first_thread = runner.run(_current_loop_and_thread())
    second_loop, second_thread = runner.run(_current_loop_and_thread())
    assert first_loop is second_loop is driven
    assert first_thread == second_thread == THREAD_NAME
    assert first_thread != threading.current_thread().name


def test_runner_loop_asked_for_first_expect_dedicated_thread_from_the_start(
    runner: EventLoopRunner,
) -> None:
    """Asking for ``loop`` before any run starts it on its own thread."""
    loop = runner.loop
    assert runner.on_own_thread
    assert runner.run(_current_loop_and_thread()) == (loop, THREAD_NAME)


def test_runner_loop_bound_resource_expect_usable_by_later_coroutine(
    runner: EventLoopRunner,
) -> None:
    """An object bound to the loop by one task works in the next one."""

    async def make_queue() -> asyncio.Queue[int]:
        return asyncio.Queue()

    async def use_queue(queue: asyncio.Queue[int]) -> int:
        await queue.put(5)
        return await queue.get()

    queue = runner.run(make_queue())
    queue_loop, _ = runner.run(_current_loop_and_thread())
    assert runner.run(use_queue(queue)) == 5
    assert not runner.on_own_thread
    assert runner.loop is queue_loop  # now on its own thread: the same loop
    assert runner.run(use_queue(queue)) == 5


def test_runner_run_from_several_threads_expect_one_loop(
    runner: EventLoopRunner,
) -> None:
    """Callers on several threads share the loop."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        loops = list(
            pool.map(lambda _: runner.run(_current_loop_and_thread())[0], range(8))
        )
    assert all(loop is runner.loop for loop in loops)


def test_runner_after_pid_change_expect_new_loop(
    runner: EventLoopRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a fork (a new pid) the child starts a loop of its own."""
    parent_loop = runner.loop
    parent_thread = runner._thread
    assert parent_thread is not None
    monkeypatch.setattr(
        loop_module, "os", SimpleNamespace(getpid=lambda: os.getpid() + 1)
    )
    try:
        assert not runner.on_own_thread
        child_loop, child_thread = runner.run(_current_loop_and_thread())
        assert child_loop is not parent_loop
        assert child_thread == threading.current_thread().name
        assert runner.run(_current_loop_and_thread())[0] is child_loop
        assert runner.loop is child_loop
    finally:
        _stop(parent_loop, parent_thread)


def _in_forked_child(work: Callable[[], bytes]) -> bytes:
    """What ``work`` returns in a forked child (which gives up after 20 s)."""
    read, write = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # multi-threaded fork
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child; its coverage is not collected
        signal.alarm(20)
        try:
            os.write(write, work())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        answer = pipe.read()
    os.waitpid(pid, 0)
    return answer


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_runner_real_fork_expect_child_drives_a_loop_of_its_own(
    runner: EventLoopRunner,
) -> None:
    """A forked child (prefork) runs its tasks on a new loop, on its own thread,
    even if another thread of the parent held the runner's lock at fork."""
    parent_loop, _ = runner.run(_current_loop_and_thread())

    def child() -> bytes:
        loop, thread = runner.run(_current_loop_and_thread())
        again, _ = runner.run(_current_loop_and_thread())
        fresh = loop is not parent_loop and again is loop
        return b"ok" if fresh and thread == threading.current_thread().name else b"no"

    holder_has_lock, release = threading.Event(), threading.Event()

    def hold_lock() -> None:
        with runner._lock:
            holder_has_lock.set()
            release.wait()

    with ThreadPoolExecutor(max_workers=1) as pool:
        held = pool.submit(hold_lock)
        assert holder_has_lock.wait(timeout=10)
        try:
            answer = _in_forked_child(child)
        finally:
            release.set()
        held.result(timeout=10)
    assert answer == b"ok"
    assert runner.run(_current_loop_and_thread())[0] is parent_loop


def test_runner_close_expect_thread_stopped_and_loop_closed(
    runner: EventLoopRunner,
) -> None:
    """``close`` stops the loop, joins its thread and closes the loop."""
    before = _loop_threads()
    loop = runner.loop
    thread = runner._thread
    assert thread is not None
    assert thread.is_alive()
    assert _loop_threads() == before + 1
    runner.close()
    assert not thread.is_alive()
    assert loop.is_closed()
    assert _loop_threads() == before


def test_runner_close_driven_loop_expect_loop_closed(runner: EventLoopRunner) -> None:
    """A loop its callers drive (no thread) is closed by ``close``."""
    loop, _ = runner.run(_current_loop_and_thread())
    runner.close()
    assert loop.is_closed()


def test_runner_close_while_driven_expect_closed_after_the_call(
    runner: EventLoopRunner,
) -> None:
    """``close`` from inside a driven coroutine closes the loop once it returns."""

    async def close_inside() -> asyncio.AbstractEventLoop:
        runner.close()
        await asyncio.sleep(0)
        return asyncio.get_running_loop()

    loop = runner.run(close_inside())
    assert loop.is_closed()
    assert runner.run(_current_loop_and_thread())[0] is not loop


def test_runner_run_after_close_expect_fresh_loop(runner: EventLoopRunner) -> None:
    """A closed runner starts a new loop on next use."""
    old = runner.loop
    runner.close()
    new, _ = runner.run(_current_loop_and_thread())
    assert new is not old
    assert not new.is_closed()
    assert not runner.on_own_thread  # driven by its caller again


def test_runner_close_never_started_expect_noop() -> None:
    """Closing a runner that never ran starts nothing and fails on nothing."""
    before = _loop_threads()
    runner = EventLoopRunner()
    runner.close()
    runner.close()
    assert _loop_threads() == before


@pytest.mark.parametrize("own_thread", [False, True])
def test_runner_reentry_from_inside_loop_expect_error_and_coroutine_closed(
    runner: EventLoopRunner, own_thread: bool
) -> None:
    """Running synchronously from inside the loop is refused; the coroutine is closed."""
    if own_thread:
        assert runner.loop is not None

    async def reenter() -> tuple[str, str]:
        inner = _answer(1)
        try:
            runner.run(inner)
        except EventLoopReentryError as error:
            return str(error), getcoroutinestate(inner)
        return "no error", getcoroutinestate(inner)

    message, state = runner.run(reenter())
    assert "await it instead" in message
    assert state == CORO_CLOSED
    assert runner.on_own_thread is own_thread


def test_runner_overlapping_calls_expect_one_loop_then_its_own_thread(
    runner: EventLoopRunner,
) -> None:
    """A call made while another thread drives the loop runs on that same loop
    (never a second one), and from then on the loop has a thread of its own."""
    driving, second_done = threading.Event(), threading.Event()

    async def first() -> asyncio.AbstractEventLoop:
        driving.set()
        while not second_done.is_set():  # the second call runs on this loop
            await asyncio.sleep(0.001)
        return asyncio.get_running_loop()

    async def second() -> asyncio.AbstractEventLoop:
        second_done.set()
        return asyncio.get_running_loop()

    with ThreadPoolExecutor(max_workers=2) as pool:
        driver = pool.submit(runner.run, first())
        assert driving.wait(timeout=10)
        joined = pool.submit(runner.run, second())
        loops = {driver.result(timeout=10), joined.result(timeout=10)}
    assert len(loops) == 1
    assert runner.on_own_thread
    assert runner.run(_current_loop_and_thread()) == (loops.pop(), THREAD_NAME)


def test_runner_loop_asked_for_while_driven_expect_own_thread_after_the_call(
    runner: EventLoopRunner,
) -> None:
    """Asking for ``loop`` while a caller drives it moves it once the call returns."""

    async def ask() -> bool:
        return runner.loop is asyncio.get_running_loop()

    assert runner.run(ask())
    assert runner.on_own_thread


def test_runner_run_from_thread_running_another_loop_expect_hop(
    runner: EventLoopRunner,
) -> None:
    """A caller inside an event loop of its own cannot drive the runner's: it hops."""

    async def caller() -> tuple[asyncio.AbstractEventLoop, str]:
        return runner.run(_current_loop_and_thread())

    loop, thread = asyncio.run(caller())
    assert thread == THREAD_NAME
    assert loop is runner.loop


def test_after_fork_in_child_expect_every_runner_lock_fresh(
    runner: EventLoopRunner,
) -> None:
    """The at-fork hook gives every live runner a new, free lock."""
    held = runner._lock
    held.acquire()
    try:
        loop_module._after_fork_in_child()
        assert runner._lock is not held
        assert not runner._lock.locked()
    finally:
        held.release()
