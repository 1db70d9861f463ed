"""``BrokerLoop``: every broker and result backend call runs on the broker's loop.

A taskiq broker's connections belong to the event loop it was started on. In a
worker or scheduler process that is taskiq's own loop. Anywhere else the broker
is started on first use:

- by an awaited call (``SPAKKY_TASKIQ__BROKER_LOOP=caller``, the default), on
  the caller's running loop, as a raw taskiq application starts its broker:
  awaited calls on that loop then reach the broker directly;
- by a sync call from a thread without a running loop (or with
  ``SPAKKY_TASKIQ__BROKER_LOOP=own``), on a private loop thread owned by this
  object.

A call made anywhere else (a sync call from another thread, an awaited call on
another loop) hops to the broker's loop and waits for it there. A sync call on
the broker's own loop would wait for itself and is refused
(``BrokerLoopBlockedError``), as is a hop onto a caller's loop that is not
running (``BrokerLoopStoppedError``). A sync *send* made there (a blocking
dispatch from an async task on the worker's loop, or from async code on the
loop the broker lives on) is not refused: its publish is started on the loop
and the call returns at once (``run_or_defer``). A worker's endpoint awaits the
publishes its task started this way before the task counts as done, and a
failed one fails the task; elsewhere a failed one is logged.

A broker started on a caller's loop is shut down on that loop before the loop
ends: a watcher task waits there, and ``asyncio.run`` (like every orderly loop
runner) cancels a loop's tasks before closing it; ``stop`` cancels it too. The
next call then starts the broker again, wherever it is made.
"""

import asyncio
import os
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from contextvars import ContextVar
from logging import getLogger
from typing import Any, override

from spakky.core.pod.annotations.pod import Pod
from spakky.core.service.interfaces.service import IService
from taskiq import AsyncBroker, TaskiqEvents, TaskiqState

from spakky.dispatch.core.adapter import (
    BrokerUnavailableError,
    EventLoopRunner,
    configuration_problem,
)
from spakky.dispatch.taskiq.broker import CONNECTION_ERRORS, describe_broker
from spakky.dispatch.taskiq.config import TaskiqConfig
from spakky.dispatch.taskiq.error import BrokerLoopBlockedError, BrokerLoopStoppedError
from spakky.dispatch.taskiq.message import misconfigured

logger = getLogger(__name__)

type BrokerWork[T] = Callable[[AsyncBroker], Coroutine[Any, Any, T]]
"""A call to make with the broker, on the broker's loop."""

_STARTUP = (TaskiqEvents.CLIENT_STARTUP, TaskiqEvents.WORKER_STARTUP)
_SHUTDOWN = (TaskiqEvents.CLIENT_SHUTDOWN, TaskiqEvents.WORKER_SHUTDOWN)

WATCHER_NAME = "spakky-taskiq broker watcher"
"""Name of the task that shuts the broker down before a caller's loop ends."""

DEFERRED_SENDS: ContextVar[list["asyncio.Task[Any]"] | None] = ContextVar(
    "spakky_taskiq_deferred_sends", default=None
)
"""Where a worker's endpoint collects the publishes its task started on the
broker's loop without waiting (``BrokerLoop.run_or_defer``)."""


async def settle_sends(sends: list["asyncio.Task[Any]"]) -> BaseException | None:
    """Wait for every publish in ``sends``; the first one's error, if any."""
    if not sends:
        return None
    outcomes = await asyncio.gather(*sends, return_exceptions=True)
    return next((each for each in outcomes if isinstance(each, BaseException)), None)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


@Pod()
class BrokerLoop(IService):
    """Knows the loop the broker lives on and runs broker calls there.

    Stopping the application shuts the broker down if this object started it.
    """

    _broker: AsyncBroker
    _timeout: float
    _on_callers_loop: bool
    _lock: threading.Lock
    _home: asyncio.AbstractEventLoop | None
    _own: EventLoopRunner | None
    _guest: asyncio.AbstractEventLoop | None
    _watcher: "asyncio.Task[None] | None"
    _busy: Future[None] | None
    _busy_on: asyncio.AbstractEventLoop | None
    _deferred: set["asyncio.Task[Any]"]
    _pid: int

    def __init__(self, broker: AsyncBroker, config: TaskiqConfig) -> None:
        self._broker = broker
        self._timeout = config.connect_timeout
        self._on_callers_loop = config.broker_loop == "caller"
        self._lock = threading.Lock()
        self._home = None
        self._own = None
        self._guest = None
        self._watcher = None
        self._busy = None
        self._busy_on = None
        self._deferred = set()
        self._pid = os.getpid()
        for event in _STARTUP:
            broker.add_event_handler(event, self._started)
        for event in _SHUTDOWN:
            broker.add_event_handler(event, self._stopped)

    @property
    def broker(self) -> AsyncBroker:
        """The broker."""
        return self._broker

    @property
    def timeout(self) -> float:
        """Seconds a broker or backend call may take before it fails."""
        return self._timeout

    def run[T](self, work: BrokerWork[T]) -> T:
        """Run ``work`` on the broker's loop and wait for it (sync callers).

        Raises:
            BrokerLoopBlockedError: Called on the broker's own loop thread.
            BrokerLoopStoppedError: The broker lives on a caller's loop that
                is not running.
            BrokerUnavailableError: The broker could not be started.
        """
        home = self._home_loop()
        if _running_loop() is home:
            raise BrokerLoopBlockedError(describe_broker(self._broker))
        return self._hop(work, home).result()

    def run_or_defer(self, work: BrokerWork[None]) -> None:
        """``run`` for a publish; on the broker's own loop, start it there instead.

        A sync caller running on the broker's loop cannot wait for it: the
        publish is started as a task on the loop and this returns at once. In a
        worker's endpoint the task is collected (``DEFERRED_SENDS``) and awaited
        when the task ends; elsewhere a failure is logged.

        Raises:
            BrokerLoopStoppedError: The broker lives on a caller's loop that
                is not running.
            BrokerUnavailableError: The broker could not be started.
        """
        home = self._current_home()
        running = _running_loop()
        if home is None or running is not home:
            self.run(work)
            return
        send = running.create_task(work(self._broker))
        collected = DEFERRED_SENDS.get()
        if collected is not None:
            collected.append(send)
            return
        self._deferred.add(send)
        send.add_done_callback(self._deferred_done)

    def _deferred_done(self, send: "asyncio.Task[Any]") -> None:
        self._deferred.discard(send)
        if not send.cancelled() and (error := send.exception()) is not None:
            logger.warning(
                "a taskiq publish started on the broker's loop failed",
                exc_info=error,
            )

    async def call[T](self, work: BrokerWork[T]) -> T:
        """Run ``work`` on the broker's loop without blocking the caller's loop.

        Raises:
            BrokerLoopStoppedError: The broker lives on another caller's loop
                that is not running.
            BrokerUnavailableError: The broker could not be started.
        """
        running = asyncio.get_running_loop()
        home = self._current_home()
        if home is None:
            home = await self._settle(running)
        if home is running:
            return await work(self._broker)
        return await asyncio.wrap_future(self._hop(work, home))

    def _hop[T](
        self, work: BrokerWork[T], home: asyncio.AbstractEventLoop
    ) -> Future[T]:
        if not home.is_running():  # only a caller's loop can be idle
            raise BrokerLoopStoppedError(describe_broker(self._broker))
        return asyncio.run_coroutine_threadsafe(work(self._broker), home)

    @override
    def set_stop_event(self, stop_event: threading.Event) -> None:
        """Not used: the loop stops with ``stop``."""

    @override
    def start(self) -> None:
        """Nothing to do: the broker is started on first use."""

    @override
    def stop(self) -> None:
        """Shut the broker down (and stop the private loop) if we started it."""
        self._leave_callers_loop()
        with self._lock:
            runner, self._own = self._own, None
            if runner is None or self._pid != os.getpid():
                return
            try:
                runner.run(self._broker.shutdown())
            except Exception:
                logger.warning("taskiq broker did not shut down cleanly", exc_info=True)
            finally:
                self._home = None
                runner.close()

    def _leave_callers_loop(self) -> None:
        """Shut down a broker started on a caller's loop, on that loop."""
        with self._lock:
            guest, watcher = self._guest, self._watcher
            if guest is None or watcher is None:
                return
            if self._pid != os.getpid() or guest.is_closed() or not guest.is_running():
                self._forget_guest()  # its loop cannot run the shutdown
                return
        if _running_loop() is guest:
            watcher.cancel()  # it shuts the broker down when the loop goes on
            return
        leaving = asyncio.run_coroutine_threadsafe(self._leave(guest), guest)
        try:
            leaving.result(timeout=self._timeout + 1)
        except Exception:
            logger.warning("taskiq broker did not shut down cleanly", exc_info=True)

    def _current_home(self) -> asyncio.AbstractEventLoop | None:
        home = self._home
        if home is None or home.is_closed() or self._pid != os.getpid():
            return None
        return home

    def _claim(
        self, running: asyncio.AbstractEventLoop | None, *, sync: bool
    ) -> asyncio.AbstractEventLoop | Future[None] | None:
        """The broker's loop; or a start or stop in progress to wait for; or
        None: the caller is to start the broker (and ``_release`` after)."""
        with self._lock:
            self._adopt_process()
            home = self._current_home()
            if home is not None:
                return home
            busy = self._busy
            if busy is not None:
                if sync and running is not None and running is self._busy_on:
                    raise BrokerLoopBlockedError(describe_broker(self._broker))
                return busy
            if self._guest is not None and self._guest.is_closed():
                self._forget_guest()  # closed without cancelling its tasks
            self._busy = Future()
            self._busy_on = None if sync else running
            return None

    def _release(self) -> None:
        with self._lock:
            busy, self._busy, self._busy_on = self._busy, None, None
        if busy is not None:
            busy.set_result(None)

    def _home_loop(self) -> asyncio.AbstractEventLoop:
        """The broker's loop; a sync caller starts it on a private loop thread."""
        home = self._current_home()
        while home is None:
            claim = self._claim(_running_loop(), sync=True)
            if isinstance(claim, Future):
                claim.result()
                continue
            home = claim if claim is not None else self._start_on_own_loop()
        return home

    async def _settle(
        self, running: asyncio.AbstractEventLoop
    ) -> asyncio.AbstractEventLoop:
        """The broker's loop; an async caller starts it on ``running``."""
        while True:
            claim = self._claim(running, sync=False)
            if isinstance(claim, Future):
                await asyncio.wrap_future(claim)
                continue
            if claim is not None:
                return claim
            if self._on_callers_loop:
                return await self._start_on_callers_loop(running)
            return await asyncio.to_thread(self._start_on_own_loop)

    def _start_on_own_loop(self) -> asyncio.AbstractEventLoop:
        runner = self._own or EventLoopRunner()
        try:
            runner.run(self._startup())
        except BaseException:
            with self._lock:
                self._home = self._own = None
            runner.close()
            raise
        else:
            with self._lock:
                self._own = runner
                self._home = runner.loop
            return runner.loop
        finally:
            self._release()

    async def _start_on_callers_loop(
        self, running: asyncio.AbstractEventLoop
    ) -> asyncio.AbstractEventLoop:
        try:
            await self._startup()
        except BaseException:
            with self._lock:
                self._home = None
            raise
        else:
            with self._lock:
                self._home = self._guest = running
                # Started at once: a task cancelled before its first step
                # would never run its ``finally``.
                self._watcher = asyncio.Task(
                    self._watch(), loop=running, name=WATCHER_NAME, eager_start=True
                )
            return running
        finally:
            self._release()

    async def _watch(self) -> None:
        """Wait on the caller's loop; shut the broker down there when cancelled."""
        loop = asyncio.get_running_loop()
        try:
            await loop.create_future()
        finally:
            await self._leave(loop)

    async def _leave(self, loop: asyncio.AbstractEventLoop) -> None:
        """Shut down the broker living on ``loop``, the running loop."""
        with self._lock:
            if self._guest is not loop:
                return
            watcher = self._watcher
            self._forget_guest()
            self._busy = Future()
            self._busy_on = loop
        if watcher is not None and watcher is not asyncio.current_task():
            watcher.cancel()
        try:
            pending = [each for each in self._deferred if each.get_loop() is loop]
            await settle_sends(pending)
            async with asyncio.timeout(self._timeout):
                await self._broker.shutdown()
        except Exception:
            logger.warning("taskiq broker did not shut down cleanly", exc_info=True)
        finally:
            self._release()

    def _forget_guest(self) -> None:
        """Under the lock: the broker no longer lives on the caller's loop."""
        if self._home is self._guest:
            self._home = None
        self._guest = self._watcher = None

    async def _startup(self) -> None:
        where = describe_broker(self._broker)
        try:
            async with asyncio.timeout(self._timeout):
                await self._broker.startup()
        except TimeoutError as error:
            raise BrokerUnavailableError(
                f"the taskiq broker {where} did not start within {self._timeout}s"
            ) from error
        except Exception as error:
            problem = configuration_problem(error)
            if problem is not None:
                what = f"cannot start the taskiq broker {where}"
                raise misconfigured(what, problem, error) from error
            if isinstance(error, CONNECTION_ERRORS):
                raise BrokerUnavailableError(
                    f"cannot start the taskiq broker {where}: {error}"
                ) from error
            raise

    def _adopt_process(self) -> None:
        """After ``fork`` the parent's loops do not exist here: forget them."""
        pid = os.getpid()
        if pid != self._pid:
            self._pid = pid
            self._own = None
            self._home = None
            self._guest = self._watcher = None
            self._busy = self._busy_on = None
            self._deferred = set()

    def _started(self, _: TaskiqState) -> None:
        self._adopt_process()
        self._home = asyncio.get_running_loop()

    def _stopped(self, _: TaskiqState) -> None:
        self._home = None
