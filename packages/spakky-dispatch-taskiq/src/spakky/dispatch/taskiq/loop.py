"""``BrokerLoop``: every broker and result backend call runs on the broker's loop.

A taskiq broker's connections belong to the event loop it was started on. In a
worker or scheduler process that is taskiq's own loop; anywhere else the broker
is started, on first use, on a private loop thread owned by this object. Sync
callers block on that loop, async callers await it from their own loop, and a
caller already on it runs the call directly.
"""

import asyncio
import os
import threading
from collections.abc import Callable, Coroutine
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
from spakky.dispatch.taskiq.error import BrokerLoopBlockedError
from spakky.dispatch.taskiq.message import misconfigured

logger = getLogger(__name__)

type BrokerWork[T] = Callable[[AsyncBroker], Coroutine[Any, Any, T]]
"""A call to make with the broker, on the broker's loop."""

_STARTUP = (TaskiqEvents.CLIENT_STARTUP, TaskiqEvents.WORKER_STARTUP)
_SHUTDOWN = (TaskiqEvents.CLIENT_SHUTDOWN, TaskiqEvents.WORKER_SHUTDOWN)


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
    _lock: threading.Lock
    _home: asyncio.AbstractEventLoop | None
    _own: EventLoopRunner | None
    _pid: int

    def __init__(self, broker: AsyncBroker, config: TaskiqConfig) -> None:
        self._broker = broker
        self._timeout = config.connect_timeout
        self._lock = threading.Lock()
        self._home = None
        self._own = None
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
            BrokerUnavailableError: The broker could not be started.
        """
        home = self._home_loop()
        if _running_loop() is home:
            raise BrokerLoopBlockedError(describe_broker(self._broker))
        return asyncio.run_coroutine_threadsafe(work(self._broker), home).result()

    async def call[T](self, work: BrokerWork[T]) -> T:
        """Run ``work`` on the broker's loop without blocking the caller's loop.

        Raises:
            BrokerUnavailableError: The broker could not be started.
        """
        home = self._current_home()
        if home is None:
            home = await asyncio.to_thread(self._home_loop)
        if home is asyncio.get_running_loop():
            return await work(self._broker)
        future = asyncio.run_coroutine_threadsafe(work(self._broker), home)
        return await asyncio.wrap_future(future)

    @override
    def set_stop_event(self, stop_event: threading.Event) -> None:
        """Not used: the loop stops with ``stop``."""

    @override
    def start(self) -> None:
        """Nothing to do: the broker is started on first use."""

    @override
    def stop(self) -> None:
        """Shut the broker down and stop the private loop, if we started them."""
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

    def _current_home(self) -> asyncio.AbstractEventLoop | None:
        home = self._home
        if home is None or home.is_closed() or self._pid != os.getpid():
            return None
        return home

    def _home_loop(self) -> asyncio.AbstractEventLoop:
        home = self._current_home()
        if home is not None:
            return home
        with self._lock:
            home = self._current_home()
            if home is not None:
                return home
            self._adopt_process()
            runner = self._own or EventLoopRunner()
            try:
                runner.run(self._startup())
            except BaseException:
                self._home = self._own = None
                runner.close()
                raise
            self._own = runner
            self._home = runner.loop
            return runner.loop

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

    def _started(self, _: TaskiqState) -> None:
        self._adopt_process()
        self._home = asyncio.get_running_loop()

    def _stopped(self, _: TaskiqState) -> None:
        self._home = None
