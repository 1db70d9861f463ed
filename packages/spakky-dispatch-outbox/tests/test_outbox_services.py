"""The relay services' loops, the settings and the plugin's choices."""

import asyncio
import threading
import time

import pytest
from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext

from spakky.dispatch.core import InvalidSettingsError
from spakky.dispatch.core.adapter import TaskMessage
from spakky.dispatch.outbox import (
    AsyncRelayUnavailableError,
    AsyncTaskOutboxRelay,
    TaskOutboxConfig,
    TaskOutboxRelay,
    encode,
)
from spakky.dispatch.outbox.plugin import initialize
from spakky.dispatch.outbox.wakeup import RelaySignal

from .outbox_fakes import MemoryOutbox, ScriptedTransport


@pytest.fixture
def config(monkeypatch: pytest.MonkeyPatch) -> TaskOutboxConfig:
    monkeypatch.setenv("SPAKKY_DISPATCH_OUTBOX__BATCH_SIZE", "1")
    monkeypatch.setenv("SPAKKY_DISPATCH_OUTBOX__POLL_INTERVAL", "0.05")
    return TaskOutboxConfig()


def _stored(outbox: MemoryOutbox, count: int) -> None:
    from datetime import UTC, datetime, timedelta

    for n in range(count):
        message = TaskMessage(task_name="t", task_id=f"t-{n}")
        when = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=n)
        outbox.memory.save(encode(message, partition_key=None, now=when))


def _until(predicate: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.01)
    raise TimeoutError


def test_thread_relay_running_expect_drains_batches_and_survives_errors(
    config: TaskOutboxConfig,
) -> None:
    """Full batches follow each other at once; a failing poll is logged, not fatal."""
    outbox, transport = MemoryOutbox(), ScriptedTransport()
    _stored(outbox, 3)
    relay = TaskOutboxRelay(outbox, transport, config, RelaySignal())
    relay.set_stop_event(threading.Event())
    relay.start()
    try:
        _until(lambda: len(transport.sent) == 3)
        outbox.memory.fail_on = "fetch_pending"
        calls = len(outbox.memory.calls)
        _until(lambda: len(outbox.memory.calls) > calls + 2)
    finally:
        relay.stop()
    assert [m.task_id for m in transport.sent] == ["t-0", "t-1", "t-2"]


def test_async_relay_running_expect_drains_and_survives_errors(
    config: TaskOutboxConfig,
) -> None:
    """The async relay drains the outbox on the loop and stops when asked."""
    outbox, transport = MemoryOutbox(), ScriptedTransport()
    _stored(outbox, 2)
    relay = AsyncTaskOutboxRelay(outbox, transport, config, RelaySignal())

    async def scenario() -> None:
        relay.set_stop_event(asyncio.Event())
        await relay.start_async()
        try:
            while len(transport.sent) < 2:
                await asyncio.sleep(0.01)
            outbox.memory.fail_on = "fetch_pending"
            calls = len(outbox.memory.calls)
            while len(outbox.memory.calls) < calls + 2:
                await asyncio.sleep(0.01)
        finally:
            await relay.stop_async()

    asyncio.run(asyncio.wait_for(scenario(), 10))
    assert [m.task_id for m in transport.sent] == ["t-0", "t-1"]


def test_async_relay_without_async_storage_expect_clear_error(
    config: TaskOutboxConfig,
) -> None:
    """The async relay needs the async storage; starting without one says so."""
    relay = AsyncTaskOutboxRelay(
        MemoryOutbox(with_async=False), ScriptedTransport(), config, RelaySignal()
    )
    with pytest.raises(AsyncRelayUnavailableError, match="use thread instead"):
        asyncio.run(relay.initialize_async())


def test_config_invalid_expect_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bad setting names its variable."""
    monkeypatch.setenv("SPAKKY_DISPATCH_OUTBOX__POLL_INTERVAL", "0")
    monkeypatch.setenv("SPAKKY_DISPATCH_OUTBOX__RELAY", "sometimes")
    with pytest.raises(InvalidSettingsError) as caught:
        TaskOutboxConfig()
    assert "SPAKKY_DISPATCH_OUTBOX__POLL_INTERVAL" in str(caught.value)
    assert "SPAKKY_DISPATCH_OUTBOX__RELAY: Input should be" in str(caught.value)
    assert "sometimes" not in str(caught.value)


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("thread", {TaskOutboxRelay}), ("async", {AsyncTaskOutboxRelay}), ("off", set())],
)
def test_plugin_relay_setting_expect_that_relay_registered(
    mode: str, expected: set[type], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``RELAY`` picks the relay service this process runs, or none."""
    monkeypatch.setenv("SPAKKY_DISPATCH_OUTBOX__RELAY", mode)
    app = SpakkyApplication(ApplicationContext())
    initialize(app)
    relays = {
        pod.type_
        for pod in app.application_context.pods.values()
        if pod.type_ in (TaskOutboxRelay, AsyncTaskOutboxRelay)
    }
    assert relays == expected
