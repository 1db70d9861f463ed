"""The taskiq rows: spakky-taskiq against raw taskiq, same run, same sections.

1. dispatch: ``await handler.awork(1, "abc", k=2)`` through the plugin against
   ``await task.kiq(1, "abc", k=2)`` of a plain ``@broker.task`` on a plain
   broker (same class and options), both awaited inside one running loop;
2. worker side: taskiq's ``Receiver.callback`` (what a taskiq worker runs for
   every delivery) on our endpoint's message against a plain task's, in-process
   on ``InMemoryBroker``;
3. end to end: tasks/s through a real ``taskiq worker`` process;
4. footprint: idle worker RSS, import + build of the worker's broker.
"""

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis
from spakky.core.application.application import SpakkyApplication
from spakky.plugins.cryptography import Key
from taskiq import AsyncBroker, TaskiqMessage
from taskiq.receiver import Receiver
from tests.support.worker import WorkerProcess, spawn

from benchmarks.env import (
    TASKIQ_BROKERS,
    TASKIQ_REDIS_URL,
    delete_taskiq_queue,
    environment,
    reachable,
    taskiq_env,
    unique,
)
from benchmarks.harness import Row, Stat, paired_async
from benchmarks.inproc import ARGS, KWARGS, caller_context
from benchmarks.raw_taskiq_app import (
    RAW_ATICK,
    RAW_AWORK,
    RAW_TICK,
    RAW_WORK,
    build_raw_taskiq,
)
from benchmarks.taskiq_apps import TaskiqBenchHandler, build_taskiq_plugin
from benchmarks.work import COUNTER_KEY_ENV, COUNTER_URL_ENV
from spakky.dispatch.core import TaskDispatcher
from spakky.dispatch.core.adapter import TaskRegistry
from spakky.dispatch.taskiq.message import build_message, control_labels
from spakky.dispatch.taskiq.receiver import GuardedReceiver

ROOT = Path(__file__).resolve().parents[1]
TRANSPORT = "taskiq"
CALLERS_LOOP = "no propagators, broker on the caller's loop"
DISPATCH_VARIANTS = ("no propagators", "tracing", "tracing + auth", CALLERS_LOOP)
WORKER_READY = "Listening started."


@contextmanager
def plugin_app(url: str, queue: str, variant: str) -> Iterator[SpakkyApplication]:
    """A started spakky-taskiq application for ``variant``, stopped after."""
    auth = variant == "tracing + auth"
    env = taskiq_env(url, queue)
    env["SPAKKY_AUTH_SNAPSHOT_PROPAGATION_ENABLED"] = "true" if auth else None
    env["SPAKKY_CRYPTOGRAPHY_SNAPSHOT_KEY"] = Key(size=32).b64_urlsafe if auth else None
    with environment(**env):
        app = build_taskiq_plugin(
            tracing=variant not in ("no propagators", CALLERS_LOOP), auth=auth
        )
    try:
        yield app
    finally:
        app.stop()


def raw_app(url: str, queue: str) -> tuple[AsyncBroker, dict[str, Any]]:
    """The raw taskiq broker and tasks on ``url`` / ``queue``."""
    with environment(**taskiq_env(url, queue)):
        return build_raw_taskiq()


def _broker(app: SpakkyApplication) -> AsyncBroker:
    return app.container.get(AsyncBroker)  # type: ignore[type-abstract]


# 1. dispatch ------------------------------------------------------------------


def dispatch_rows(number: int, repeat: int, brokers: tuple[str, ...]) -> list[Row]:
    """``await handler.awork(...)`` through the plugin vs ``await task.kiq(...)``.

    The plugin's broker lives where spakky-taskiq puts it for a caller that
    did not start it: on a loop thread of its own (each dispatch hops there and
    back). The ``broker on the caller's loop`` variant starts it on the
    caller's loop first, as the raw broker is, so no hop is made.
    """
    rows: list[Row] = []
    for broker in brokers:
        url = TASKIQ_BROKERS[broker]
        if not reachable(url):
            print(f"  skipping taskiq dispatch on {broker}: not reachable")
            continue
        for variant in DISPATCH_VARIANTS:
            queue = unique("tq-dispatch")
            try:
                with plugin_app(url, queue, variant) as app:
                    raw, tasks = raw_app(url, queue)
                    ours, base = asyncio.run(
                        _dispatch(app, raw, tasks[RAW_AWORK], variant, number, repeat)
                    )
            finally:
                delete_taskiq_queue(url, queue)
            rows.append(
                Row(
                    section="1 dispatch",
                    name=f"{broker}, {variant}",
                    unit="µs/call",
                    ours=ours,
                    raw=base,
                    transport=TRANSPORT,
                )
            )
    return rows


async def _dispatch(
    app: SpakkyApplication,
    raw: AsyncBroker,
    raw_task: Any,
    variant: str,
    number: int,
    repeat: int,
) -> tuple[Stat, Stat]:
    handler = app.container.get(TaskiqBenchHandler)
    ours_broker = _broker(app)
    await raw.startup()
    if variant == CALLERS_LOOP:
        await ours_broker.startup()
    try:
        with caller_context(app, variant):

            def ours() -> Awaitable[object]:
                return handler.awork(*ARGS, **KWARGS)  # type: ignore[arg-type]

            def base() -> Awaitable[object]:
                return raw_task.kiq(*ARGS, **KWARGS)  # type: ignore[no-any-return]

            return await paired_async(ours, base, number=number, repeat=repeat)
    finally:
        app.application_context.clear_context()
        await raw.shutdown()
        if variant == CALLERS_LOOP:
            await ours_broker.shutdown()


# 2. worker side ---------------------------------------------------------------


def worker_rows(number: int, repeat: int) -> list[Row]:
    """Our endpoint vs a plain taskiq task, through taskiq's ``Receiver.callback``.

    Both brokers are ``InMemoryBroker`` (as the plugin builds for memory://),
    each with the receiver its worker command uses, made as ``taskiq worker``
    makes it (a default thread pool for sync tasks, 100 async slots, parameter
    validation): ``GuardedReceiver`` (its checks included) for ours, taskiq's
    ``Receiver`` for raw.
    """
    rows: list[Row] = []
    for variant in ("no propagators", "tracing + auth"):
        queue = unique("tq-worker")
        with plugin_app("memory://", queue, variant) as app:
            raw, _ = raw_app("memory://", queue)
            cases = [("sync", "work", RAW_WORK)]
            if variant == "no propagators":
                cases.append(("async", "awork", RAW_AWORK))
            for kind, method, raw_name in cases:
                ours_wire = _plugin_wire(app, method, variant)
                raw_wire = _raw_wire(raw, raw_name)
                ours, base = asyncio.run(
                    _receive(_broker(app), ours_wire, raw, raw_wire, number, repeat)
                )
                label = f"{kind}, {variant}"
                if kind == "async":
                    label += ": invoker's loop vs the worker's loop"
                rows.append(
                    Row(
                        section="2 worker",
                        name=label,
                        unit="µs/task",
                        ours=ours,
                        raw=base,
                        transport=TRANSPORT,
                    )
                )
    return rows


def _plugin_wire(app: SpakkyApplication, method: str, variant: str) -> bytes:
    """The bytes spakky-taskiq sends for ``method(*ARGS, **KWARGS)`` from a caller."""
    binding = next(
        b for b in app.container.get(TaskRegistry) if b.method_name == method
    )
    dispatcher = app.container.get(TaskDispatcher)
    with caller_context(app, variant):
        message = dispatcher.message(binding, ARGS, KWARGS)
    app.application_context.clear_context()
    broker = _broker(app)
    labels: dict[str, object] = dict(message.headers)
    labels.update(control_labels(message.task_name, message.options, time.time()))
    prepared = build_message(message, broker.id_generator(), labels)
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
) -> tuple[Stat, Stat]:
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
            return await paired_async(
                lambda: ours_rx.callback(ours_wire),
                lambda: raw_rx.callback(raw_wire),
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


# 3. end to end, 4. footprint --------------------------------------------------


def _worker_argv(side: str) -> list[str]:
    if side == "plugin":
        return [
            sys.executable,
            "-m",
            "spakky.plugins.taskiq.cli",
            "worker",
            "benchmarks.taskiq_apps:plugin_app",
            "--workers",
            "1",
        ]
    return [
        sys.executable,
        "-m",
        "taskiq",
        "worker",
        "benchmarks.raw_taskiq_app:broker",
        "--workers",
        "1",
    ]


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _worker_pid(worker: WorkerProcess) -> int:
    """The pid of the worker process (taskiq's main process only supervises it)."""
    main = worker.process.pid
    children = Path(f"/proc/{main}/task/{main}/children").read_text().split()
    if len(children) != 1:
        raise RuntimeError(f"expected one worker process, found {children}")
    return int(children[0])


def _run_side(
    side: str, broker: str, kinds: tuple[str, ...], tasks: int, repeat: int, log: Path
) -> tuple[dict[str, list[float]], tuple[float, float]]:
    """Tasks/s per kind and repeat, and idle RSS (MB): worker, main process.

    ``taskiq worker --workers 1`` runs the worker in a child of a supervising
    main process; the worker's RSS is the row, the main process's a note.
    """
    url, queue, key = TASKIQ_BROKERS[broker], unique("tq-e2e"), unique("counter")
    env = {k: v for k, v in taskiq_env(url, queue).items() if v is not None}
    env |= {COUNTER_URL_ENV: TASKIQ_REDIS_URL, COUNTER_KEY_ENV: key}
    counter = redis.Redis.from_url(TASKIQ_REDIS_URL)
    app: SpakkyApplication | None = None
    try:
        with environment(**env):
            if side == "plugin":
                app = build_taskiq_plugin()
                handler = app.container.get(TaskiqBenchHandler)
                senders: dict[str, Callable[[], Awaitable[object]]] = {
                    "async": handler.atick,
                    "sync": _sync_send(handler.tick),
                }
                raw = None
            else:
                raw, raw_tasks = build_raw_taskiq()
                senders = {
                    "async": raw_tasks[RAW_ATICK].kiq,
                    "sync": raw_tasks[RAW_TICK].kiq,
                }
            with spawn(_worker_argv(side), env, log, ready=WORKER_READY) as worker:
                try:
                    time.sleep(1.0)  # settle: idle RSS after start-up
                    rss_mb = (
                        _rss_kb(_worker_pid(worker)) / 1024,
                        _rss_kb(worker.process.pid) / 1024,
                    )
                    rates = asyncio.run(
                        _drive(raw, senders, kinds, counter, key, tasks, repeat, worker)
                    )
                finally:
                    _stop_soon(worker.process)
    finally:
        counter.delete(key)
        if app is not None:
            app.stop()
        delete_taskiq_queue(url, queue)
    return rates, rss_mb


def _stop_soon(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the worker's process group, SIGKILL it after a second.

    taskiq's own worker notices SIGTERM only when its loop next wakes up, on an
    idle Redis queue seconds later; the numbers are taken, so do not wait.
    """
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=1.0)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _sync_send(call: Callable[[], object]) -> Callable[[], Awaitable[object]]:
    """A sync ``@task`` call (it blocks until the broker has the message)."""

    async def send() -> object:
        return call()

    return send


async def _drive(
    raw: AsyncBroker | None,
    senders: dict[str, Callable[[], Awaitable[object]]],
    kinds: tuple[str, ...],
    counter: Any,
    key: str,
    tasks: int,
    repeat: int,
    worker: WorkerProcess,
) -> dict[str, list[float]]:
    if raw is not None:
        await raw.startup()
    try:
        rates: dict[str, list[float]] = {}
        for kind in kinds:
            send = senders[kind]
            samples = []
            for _ in range(repeat + 1):  # the first round warms up
                counter.set(key, 0)
                start = time.perf_counter()
                for _ in range(tasks):
                    await send()
                deadline = time.monotonic() + 60 + tasks / 50
                while int(counter.get(key) or 0) < tasks:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"the worker did not finish:\n{worker.log}")
                    await asyncio.sleep(0.002)
                samples.append(tasks / (time.perf_counter() - start))
            rates[kind] = samples[1:]
        return rates
    finally:
        if raw is not None:
            await raw.shutdown()


def process_rows(
    tasks: int, repeat: int, brokers: tuple[str, ...], kinds: tuple[str, ...]
) -> list[Row]:
    """Throughput through a real ``taskiq worker``, and its idle RSS, plugin vs raw."""
    rows: list[Row] = []
    rss: dict[str, list[float]] = {"plugin": [], "raw": []}
    main_rss: dict[str, list[float]] = {"plugin": [], "raw": []}
    with tempfile.TemporaryDirectory(prefix="spakky-bench-taskiq-") as tmp:
        for broker in brokers:
            if not reachable(TASKIQ_BROKERS[broker]) or not reachable(TASKIQ_REDIS_URL):
                print(f"  skipping taskiq end to end on {broker}: not reachable")
                continue
            results = {
                side: _run_side(
                    side,
                    broker,
                    kinds,
                    tasks,
                    repeat,
                    Path(tmp) / f"{side}-{broker}-{uuid.uuid4().hex[:6]}.log",
                )
                for side in ("raw", "plugin")
            }
            for side, (_, (worker_mb, main_mb)) in results.items():
                rss[side].append(worker_mb)
                main_rss[side].append(main_mb)
            for kind in kinds:
                rows.append(
                    Row(
                        section="3 end to end",
                        name=f"{broker}, {kind} task, {tasks} tasks",
                        unit="tasks/s",
                        ours=Stat.of(results["plugin"][0][kind]),
                        raw=Stat.of(results["raw"][0][kind]),
                        transport=TRANSPORT,
                        higher_is_better=True,
                    )
                )
    if rss["plugin"] and rss["raw"]:
        rows.append(
            Row(
                section="4 footprint",
                name="idle worker process RSS",
                unit="MB",
                ours=Stat.of(rss["plugin"]),
                raw=Stat.of(rss["raw"]),
                transport=TRANSPORT,
                notes={
                    "added_mb": Stat.of(rss["plugin"]).median
                    - Stat.of(rss["raw"]).median,
                    "main_process_mb": {
                        side: Stat.of(samples).median
                        for side, samples in main_rss.items()
                    },
                },
            )
        )
    return rows


_IMPORT = {
    "raw": "from benchmarks.raw_taskiq_app import build_raw_taskiq; build_raw_taskiq()",
    "plugin": (
        "from benchmarks.taskiq_apps import build_taskiq_plugin; "
        "from taskiq import AsyncBroker; "
        "build_taskiq_plugin().container.get(AsyncBroker)"
    ),
}
_PROBE = (
    "import time; t = time.perf_counter(); {code}; "
    "print((time.perf_counter() - t) * 1000)"
)


def import_rows(repeat: int) -> list[Row]:
    """Import and build the worker's broker in a fresh interpreter, plugin vs raw."""
    samples: dict[str, list[float]] = {"plugin": [], "raw": []}
    env = {
        k: v
        for k, v in taskiq_env(TASKIQ_REDIS_URL, "spakky-bench-import").items()
        if v is not None
    }
    with environment(**env):
        for _ in range(repeat):
            for side, code in _IMPORT.items():
                out = subprocess.run(
                    [sys.executable, "-c", _PROBE.format(code=code)],
                    cwd=ROOT,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                samples[side].append(float(out.stdout.strip().splitlines()[-1]))
    return [
        Row(
            section="4 footprint",
            name="import + build the worker's broker",
            unit="ms",
            ours=Stat.of(samples["plugin"]),
            raw=Stat.of(samples["raw"]),
            transport=TRANSPORT,
        )
    ]
