"""Sections 3 and 4: real worker processes (throughput, idle RSS, start-up)."""

import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import redis
from tests.support.worker import quiet_options, spawn

from benchmarks.celery.apps import build_plugin
from benchmarks.celery.env import BROKERS, REDIS_URL, broker_env, delete_queue
from benchmarks.celery.old import OLD_APP, OldColumn
from benchmarks.celery.raw_app import RAW_TICK, build_raw
from benchmarks.harness.env import (
    environment,
    present,
    reachable,
    reachable_brokers,
    unique,
)
from benchmarks.harness.handler import BenchHandler
from benchmarks.harness.processes import (
    StartUp,
    compile_ours,
    rss_mb,
    start_up,
)
from benchmarks.harness.rows import Row
from benchmarks.harness.timing import Stat, rotation, stats_of
from benchmarks.harness.work import COUNTER_KEY_ENV, COUNTER_URL_ENV

POOLS = {"solo": ("-P", "solo"), "prefork": ("-P", "prefork", "-c", "2")}
TARGETS = {
    "raw": "benchmarks.celery.raw_app:raw_celery",
    "ours": "benchmarks.celery.apps:plugin_celery",
    "old": f"{OLD_APP}:old_celery",
}


def _sender(
    side: str, env: dict[str, str], stack: ExitStack, old: OldColumn
) -> Callable[[int], object]:
    """How ``side`` sends ``n`` tick tasks (its app lives until ``stack`` ends)."""
    if side == "old":
        driver = stack.enter_context(old.driver({"kind": "ticks"}, env))
        assert driver is not None
        return lambda n: driver.call("send", number=n)
    tick: Callable[[], object]
    with environment(**env):
        if side == "ours":
            app = build_plugin()
            stack.callback(app.stop)
            tick = app.container.get(BenchHandler).tick
        else:
            celery = build_raw()
            tick = lambda: celery.send_task(RAW_TICK)  # noqa: E731
    return lambda n: [tick() for _ in range(n)]


@dataclass
class _Side:
    """One side's running worker and how to drive a round through it."""

    send: Callable[[int], object]
    done: Callable[[], int]
    reset: Callable[[], object]
    log: Callable[[], str]
    idle_mb: float


def _start_side(
    side: str,
    broker: str,
    pool: str,
    logs: Path,
    old: OldColumn,
    python: str,
    stack: ExitStack,
) -> _Side:
    """Start ``side``'s worker (stopped when ``stack`` ends) and measure its idle RSS."""
    url, queue, key = BROKERS[broker], unique("e2e"), unique("counter")
    env = present(broker_env(url, queue))
    env |= {COUNTER_URL_ENV: REDIS_URL, COUNTER_KEY_ENV: key}
    counter = redis.Redis.from_url(REDIS_URL)
    if side == "old":
        python = str(old.python)
    argv = [str(python), "-m", "celery", "-A", TARGETS[side], "worker"]
    argv += [*POOLS[pool], "-Q", queue, *quiet_options("worker")]
    with environment(**env):
        cleaner = build_raw()  # any app on the broker can drop the queue
    stack.callback(counter.delete, key)
    stack.callback(delete_queue, cleaner, queue)
    send = _sender(side, env, stack, old)
    log = logs / f"{side}-{broker}-{pool}.log"
    worker = stack.enter_context(spawn(argv, env, log))
    time.sleep(1.0)  # settle: idle RSS after start-up
    return _Side(
        send=send,
        done=lambda: int(counter.get(key) or 0),
        reset=lambda: counter.set(key, 0),
        log=lambda: worker.log,
        idle_mb=rss_mb(worker.process.pid),
    )


def _rates(sides: dict[str, _Side], tasks: int, repeat: int) -> dict[str, list[float]]:
    """Tasks/s of every side, one round per side and repeat, rotating the order
    (after a warm-up round of each), as every other row samples its sides.

    All sides' workers run during the whole row, idle but for their rounds, so
    load that comes and goes on a shared machine falls on every side alike
    instead of on whichever side ran during it.
    """
    measured: dict[str, list[float]] = {side: [] for side in sides}
    for side in sides:
        _round(sides[side], tasks)  # warm-up
    for side in rotation(list(sides), repeat):
        measured[side].append(_round(sides[side], tasks))
    return measured


def _round(side: _Side, tasks: int) -> float:
    """Tasks/s of one round: reset the counter, send ``tasks``, wait for them all."""
    side.reset()
    start = time.perf_counter()
    side.send(tasks)
    deadline = time.monotonic() + 60 + tasks / 50
    while side.done() < tasks:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the worker did not finish:\n{side.log()}")
        time.sleep(0.002)
    return tasks / (time.perf_counter() - start)


def process_rows(
    tasks: int,
    repeat: int,
    brokers: tuple[str, ...],
    pools: tuple[str, ...],
    old: OldColumn,
    python: str,
) -> list[Row]:
    """Throughput through a real worker, and its idle RSS: ours, raw, 8.5.0.

    Ours and raw workers run in ``python`` (``oursvenv``)."""
    if not reachable(REDIS_URL):
        print("  skipping end to end: the completion counter's Redis is not reachable")
        return []
    rows: list[Row] = []
    sides = ("raw", "ours", "old") if old.python else ("raw", "ours")
    rss: dict[str, list[float]] = {side: [] for side in sides}
    with tempfile.TemporaryDirectory(prefix="spakky-bench-") as tmp:
        for broker, _ in reachable_brokers(BROKERS, brokers, "end to end"):
            for pool in pools:
                with ExitStack() as stack:
                    started = {
                        side: _start_side(
                            side, broker, pool, Path(tmp), old, python, stack
                        )
                        for side in sides
                    }
                    measured = _rates(started, tasks, repeat)
                if pool == "solo":
                    for side, running in started.items():
                        rss[side].append(running.idle_mb)
                rows.append(
                    old.row(
                        "e2e",
                        f"{broker}, {pool}, {tasks} tasks",
                        stats_of(measured),
                        target="≥ 1.00x",
                    )
                )
    if rss["ours"]:
        added = Stat.of(rss["ours"]).median - Stat.of(rss["raw"]).median
        rows.append(
            old.row(
                "footprint",
                "idle solo worker RSS",
                stats_of(rss),
                unit="MB",
                target="≤ raw + 6 MB",
                notes={"added_mb": added},
            )
        )
    return rows


START_UPS = {
    "raw": (["celery"], "benchmarks.celery.raw_app:build_raw"),
    "ours": (["spakky.plugins.celery"], "benchmarks.celery.apps:build_plugin"),
    "old": (["spakky.plugins.celery"], f"{OLD_APP}:build_old"),
}


def import_rows(repeat: int, old: OldColumn, python: str) -> list[Row]:
    """Start-up in a fresh interpreter: import the plugin, boot the app.

    Ours and raw start in ``python`` (``oursvenv``)."""
    pythons = {"raw": python, "ours": python}
    if old.python:
        pythons["old"] = str(old.python)
    for interpreter in set(pythons.values()):
        compile_ours(interpreter)
    env = present(broker_env("memory://", "spakky-bench-import"))
    measured: dict[str, list[StartUp]] = {side: [] for side in pythons}
    for side in rotation(list(pythons), repeat):
        imports, build = START_UPS[side]
        measured[side].append(start_up(pythons[side], imports, build, env))
    missing = {
        side: sorted({path for run in runs for path in run.missing_bytecode})
        for side, runs in measured.items()
    }
    for side, paths in missing.items():
        if paths:
            print(f"  warning: {side} imported {len(paths)} modules without bytecode")
    notes: dict[str, object] = {"missing_bytecode": missing, "python": pythons}
    figures = {
        "import": {s: [r.import_ms for r in runs] for s, runs in measured.items()},
        "boot": {s: [r.boot_ms for r in runs] for s, runs in measured.items()},
        "total": {
            s: [r.import_ms + r.boot_ms for r in runs] for s, runs in measured.items()
        },
    }
    rows = (
        ("import", "import spakky.plugins.celery (raw: import celery)", "≤ 1.00x old"),
        (
            "boot",
            "boot the worker app (import its module, build, start)",
            "≤ 1.00x old",
        ),
        ("total", "import + build the worker app", ""),
    )
    return [
        old.row(
            "footprint",
            name,
            stats_of(figures[figure]),
            unit="ms",
            target=target,
            notes=notes if figure == "import" else {},
        )
        for figure, name, target in rows
    ]
