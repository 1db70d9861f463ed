"""The relay as Spakky background services: in a thread, or on the event loop.

``SPAKKY_DISPATCH_OUTBOX__RELAY`` picks one (``thread``, ``async``) or none
(``off``): a process that only stores (a web server whose relay runs
elsewhere) turns it off. Any number of relays may run against one outbox:
each claim is atomic, so a message is published once per claim.
"""

import asyncio
import logging
from typing import override

from spakky.core.pod.annotations.pod import Pod
from spakky.core.service.background import (
    AbstractAsyncBackgroundService,
    AbstractBackgroundService,
)

from spakky.dispatch.outbox.config import TaskOutboxConfig
from spakky.dispatch.outbox.error import AsyncRelayUnavailableError
from spakky.dispatch.outbox.from_core import IAsyncTaskSender, ITaskSender
from spakky.dispatch.outbox.ports import IAsyncTaskOutboxStorage, ITaskOutbox
from spakky.dispatch.outbox.relay import (
    Publish,
    RelayReport,
    Step,
    relay_batch,
    run_steps,
    run_steps_async,
)
from spakky.dispatch.outbox.wakeup import RelaySignal

logger = logging.getLogger("spakky.dispatch.outbox.relay")


@Pod()
class TaskOutboxRelay(AbstractBackgroundService):
    """Relays committed task messages from a thread of its own."""

    _outbox: ITaskOutbox
    _transport: ITaskSender
    _config: TaskOutboxConfig
    _signal: RelaySignal

    def __init__(
        self,
        outbox: ITaskOutbox,
        transport: ITaskSender,
        config: TaskOutboxConfig,
        signal: RelaySignal,
    ) -> None:
        self._outbox = outbox
        self._transport = transport
        self._config = config
        self._signal = signal

    def relay_once(self) -> RelayReport:
        """Claim one batch and relay it; what it did."""
        storage = self._outbox.storage()
        config = self._config
        claimed = storage.fetch_pending(config.batch_size, config.max_attempts)

        def perform(step: Step) -> object:
            if isinstance(step, Publish):
                return self._transport.send(step.message)
            return getattr(storage, step.method)(*step.args)

        limits = self._transport.header_limits
        return run_steps(relay_batch(claimed, config.max_attempts, limits), perform)

    @override
    def initialize(self) -> None:
        return

    @override
    def dispose(self) -> None:
        return

    @override
    def run(self) -> None:
        while not self._stop_event.is_set():
            if not self._relay_logged():
                self._signal.wait(self._config.poll_interval)

    @override
    def stop(self) -> None:
        self._stop_event.set()
        self._signal.wake()
        super().stop()

    def _relay_logged(self) -> bool:
        """Relay one batch; whether a full batch went out (more may wait)."""
        try:
            return _full(self.relay_once(), self._config)
        except Exception:
            logger.exception("task outbox relay failed; retrying at the next poll")
            return False


@Pod()
class AsyncTaskOutboxRelay(AbstractAsyncBackgroundService):
    """Relays committed task messages on the application's event loop."""

    _outbox: ITaskOutbox
    _transport: ITaskSender
    _async_transport: IAsyncTaskSender | None
    _config: TaskOutboxConfig
    _signal: RelaySignal

    def __init__(
        self,
        outbox: ITaskOutbox,
        transport: ITaskSender,
        config: TaskOutboxConfig,
        signal: RelaySignal,
        async_transport: IAsyncTaskSender | None = None,
    ) -> None:
        self._outbox = outbox
        self._transport = transport
        self._async_transport = async_transport
        self._config = config
        self._signal = signal

    async def relay_once(self) -> RelayReport:
        """Claim one batch and relay it; what it did."""
        storage = self._storage()
        config = self._config
        claimed = await storage.fetch_pending(config.batch_size, config.max_attempts)

        async def perform(step: Step) -> object:
            if not isinstance(step, Publish):
                return await getattr(storage, step.method)(*step.args)
            if self._async_transport is not None:
                return await self._async_transport.send_async(step.message)
            return await asyncio.to_thread(self._transport.send, step.message)

        limits = self._transport.header_limits
        steps = relay_batch(claimed, config.max_attempts, limits)
        return await run_steps_async(steps, perform)

    @override
    async def initialize_async(self) -> None:
        self._storage()

    @override
    async def dispose_async(self) -> None:
        return

    @override
    async def run_async(self) -> None:
        while not self._stop_event.is_set():
            if not await self._relay_logged():
                await asyncio.to_thread(self._signal.wait, self._config.poll_interval)

    @override
    async def stop_async(self) -> None:
        self._stop_event.set()
        self._signal.wake()
        await super().stop_async()

    async def _relay_logged(self) -> bool:
        """Relay one batch; whether a full batch went out (more may wait)."""
        try:
            return _full(await self.relay_once(), self._config)
        except Exception:
            logger.exception("task outbox relay failed; retrying at the next poll")
            return False

    def _storage(self) -> IAsyncTaskOutboxStorage:
        storage = self._outbox.async_storage()
        if storage is None:
            raise AsyncRelayUnavailableError()
        return storage


def _full(report: RelayReport, config: TaskOutboxConfig) -> bool:
    return len(report.published) >= config.batch_size
