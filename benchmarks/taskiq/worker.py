"""Section 2 (taskiq): what a worker runs per delivery, ours against a plain task."""

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

from spakky.core.application.application import SpakkyApplication
from taskiq import AsyncBroker, TaskiqMessage
from taskiq.receiver import Receiver

from benchmarks.harness.calls import ARGS, KWARGS, NO_PROPAGATORS, caller_context
from benchmarks.harness.core_api import TaskDispatcher, TaskRegistry
from benchmarks.harness.env import unique
from benchmarks.harness.rows import Row
from benchmarks.harness.spakky_app import measured_type, started
from benchmarks.harness.timing import Stat, async_sampler, compare_async
from benchmarks.taskiq.apps import build_taskiq_plugin
from benchmarks.taskiq.dispatch import broker_of, raw_app
from benchmarks.taskiq.env import taskiq_env, taskiq_row
from benchmarks.taskiq.raw_app import RAW_AWORK, RAW_WORK
from spakky.dispatch.taskiq.message import build_message, control_labels
from spakky.dispatch.taskiq.receiver import GuardedReceiver


def worker_rows(number: int, repeat: int) -> list[Row]:
    """Our endpoint vs a plain taskiq task, through taskiq's ``Receiver.callback``.

    Both brokers are ``InMemoryBroker`` (as the plugin builds for memory://),
    each with the receiver its worker command uses, made as ``taskiq worker``
    makes it (a default thread pool for sync tasks, 100 async slots, parameter
    validation): ``GuardedReceiver`` (its checks included) for ours, taskiq's
    ``Receiver`` for raw.
    """
    rows: list[Row] = []
    for variant in (NO_PROPAGATORS, "tracing + auth"):
        queue = unique("tq-worker")
        with started(
            build_taskiq_plugin, taskiq_env("memory://", queue), variant
        ) as app:
            raw, _ = raw_app("memory://", queue)
            cases = [("sync", "work", RAW_WORK)]
            if variant == NO_PROPAGATORS:
                cases.append(("async", "awork", RAW_AWORK))
            for kind, method, raw_name in cases:
                ours_wire = _plugin_wire(app, method, variant)
                raw_wire = _raw_wire(raw, raw_name)
                stats = asyncio.run(
                    _receive(broker_of(app), ours_wire, raw, raw_wire, number, repeat)
                )
                label = f"{kind}, {variant}"
                if kind == "async":
                    label += ": both on the worker's loop"
                rows.append(taskiq_row("worker", label, stats))
    return rows


def _plugin_wire(app: SpakkyApplication, method: str, variant: str) -> bytes:
    """The bytes spakky-taskiq sends for ``method(*ARGS, **KWARGS)`` from a caller."""
    suffix = f".{measured_type(variant).__name__}.{method}"
    binding = next(
        b for b in app.container.get(TaskRegistry) if b.name.endswith(suffix)
    )
    dispatcher = app.container.get(TaskDispatcher)
    with caller_context(app, variant):
        message = dispatcher.message(binding, ARGS, KWARGS)
    broker = broker_of(app)
    labels: dict[str, object] = dict(message.headers)
    labels.update(control_labels(message.task_name, message.options, time.time()))
    prepared = build_message(message, message.task_id or broker.id_generator(), labels)
    return broker.formatter.dumps(prepared).message


def _raw_wire(broker: AsyncBroker, task_name: str) -> bytes:
    """The bytes ``task.kiq(*ARGS, **KWARGS)`` sends for a plain task."""
    message = TaskiqMessage(
        task_id=broker.id_generator(),
        task_name=task_name,
        labels={},
        labels_types={},
        args=list(ARGS),
        kwargs=dict(KWARGS),
    )
    return broker.formatter.dumps(message).message


async def _receive(
    ours_broker: AsyncBroker,
    ours_wire: bytes,
    raw_broker: AsyncBroker,
    raw_wire: bytes,
    number: int,
    repeat: int,
) -> dict[str, Stat]:
    with ThreadPoolExecutor() as ours_pool, ThreadPoolExecutor() as raw_pool:
        receivers = [  # spakky-taskiq worker's receiver for ours, taskiq's for raw
            kind(broker, executor=pool, max_async_tasks=100)
            for kind, broker, pool in (
                (GuardedReceiver, ours_broker, ours_pool),
                (Receiver, raw_broker, raw_pool),
            )
        ]
        for broker in (ours_broker, raw_broker):
            await broker.startup()
        try:
            ours_rx, raw_rx = receivers
            values = []
            for receiver, wire, broker in (
                (ours_rx, ours_wire, ours_broker),
                (raw_rx, raw_wire, raw_broker),
            ):
                await receiver.callback(wire)
                values.append(_stored(broker, wire))
            if values[0] != values[1]:
                raise RuntimeError(f"different results: {values[0]!r} vs {values[1]!r}")
            return await compare_async(
                {
                    "ours": async_sampler(lambda: ours_rx.callback(ours_wire)),
                    "raw": async_sampler(lambda: raw_rx.callback(raw_wire)),
                },
                number=number,
                repeat=repeat,
            )
        finally:
            for broker in (ours_broker, raw_broker):
                await broker.shutdown()


def _stored(broker: AsyncBroker, wire: bytes) -> object:
    """The value the receiver stored for ``wire`` (an error raises)."""
    task_id = broker.formatter.loads(wire).task_id
    result = broker.result_backend.results[task_id]  # type: ignore[attr-defined]
    if result.is_err:
        raise RuntimeError(f"the task failed: {result.error!r}")
    return result.return_value
