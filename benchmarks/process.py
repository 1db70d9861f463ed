"""Sections 3 and 4: real worker processes (throughput, idle RSS, import time)."""

import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import redis
from celery import Celery
from tests.support.worker import celery_process

from benchmarks.apps import BenchHandler, build_plugin
from benchmarks.env import (
    BROKERS,
    REDIS_URL,
    broker_env,
    delete_queue,
    environment,
    reachable,
    unique,
)
from benchmarks.harness import Row, Stat
from benchmarks.raw_app import RAW_CONF_ENV, RAW_TICK, build_raw, raw_settings
from benchmarks.work import COUNTER_KEY_ENV, COUNTER_URL_ENV
from spakky.dispatch.celery import CeleryConfig, build_celery_app

ROOT = Path(__file__).resolve().parents[1]
POOLS = {"solo": ("-P", "solo"), "prefork": ("-P", "prefork", "-c", "2")}


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _run_side(
    side: str, broker: str, pool: str, tasks: int, repeat: int, log_dir: Path
) -> tuple[list[float], float]:
    """Tasks/s per repeat and the idle RSS (MB) of one worker of ``side``."""
    url, queue, key = BROKERS[broker], unique("e2e"), unique("counter")
    env = {k: v for k, v in broker_env(url, queue).items() if v is not None}
    env |= {COUNTER_URL_ENV: REDIS_URL, COUNTER_KEY_ENV: key}
    with environment(**env):
        env[RAW_CONF_ENV] = raw_settings(build_celery_app(CeleryConfig()))
    counter = redis.Redis.from_url(REDIS_URL)
    with environment(**env):
        if side == "plugin":
            app = build_plugin()
            handler = app.container.get(BenchHandler)
            celery = app.container.get(Celery)
            send: Callable[[], object] = handler.tick
        else:
            celery = build_raw()
            send = lambda: celery.send_task(RAW_TICK)  # noqa: E731
        target = f"benchmarks.{'apps' if side == 'plugin' else 'raw_app'}:{side}_celery"
        log = log_dir / f"{side}-{broker}-{pool}.log"
        try:
            with celery_process(
                target, env, log, args=(*POOLS[pool], "-Q", queue)
            ) as worker:
                time.sleep(1.0)  # settle: idle RSS after start-up
                rss_mb = _rss_kb(worker.process.pid) / 1024
                rates = []
                for _ in range(repeat + 1):  # the first round warms up
                    counter.set(key, 0)
                    start = time.perf_counter()
                    for _ in range(tasks):
                        send()
                    deadline = time.monotonic() + 60 + tasks / 50
                    while int(counter.get(key) or 0) < tasks:
                        if time.monotonic() > deadline:
                            raise TimeoutError(
                                f"{side} worker did not finish:\n{worker.log}"
                            )
                        time.sleep(0.002)
                    rates.append(tasks / (time.perf_counter() - start))
        finally:
            counter.delete(key)
            delete_queue(celery, queue)
            if side == "plugin":
                app.stop()
    return rates[1:], rss_mb


def process_rows(
    tasks: int, repeat: int, brokers: tuple[str, ...], pools: tuple[str, ...]
) -> list[Row]:
    """Throughput through a real worker, and its idle RSS, plugin vs raw."""
    rows: list[Row] = []
    rss: dict[str, list[float]] = {"plugin": [], "raw": []}
    with tempfile.TemporaryDirectory(prefix="spakky-bench-") as tmp:
        for broker in brokers:
            if (
                broker == "memory"
                or not reachable(BROKERS[broker])
                or not reachable(REDIS_URL)
            ):
                continue
            for pool in pools:
                results = {
                    side: _run_side(side, broker, pool, tasks, repeat, Path(tmp))
                    for side in ("raw", "plugin")
                }
                for side, (_, mb) in results.items():
                    if pool == "solo":
                        rss[side].append(mb)
                rows.append(
                    Row(
                        section="3 end to end",
                        name=f"{broker}, {pool}, {tasks} tasks",
                        unit="tasks/s",
                        ours=Stat.of(results["plugin"][0]),
                        raw=Stat.of(results["raw"][0]),
                        target="≥ 1.00x",
                        higher_is_better=True,
                    )
                )
    if rss["plugin"] and rss["raw"]:
        rows.append(
            Row(
                section="4 footprint",
                name="idle solo worker RSS",
                unit="MB",
                ours=Stat.of(rss["plugin"]),
                raw=Stat.of(rss["raw"]),
                target="≤ raw + 6 MB",
                notes={
                    "added_mb": Stat.of(rss["plugin"]).median
                    - Stat.of(rss["raw"]).median
                },
            )
        )
    return rows


_IMPORT = {
    "raw": "from benchmarks.raw_app import build_raw; build_raw()",
    "plugin": "from benchmarks.apps import build_plugin; build_plugin()",
}
_PROBE = (
    "import time; t = time.perf_counter(); {code}; "
    "print((time.perf_counter() - t) * 1000)"
)


def import_rows(repeat: int) -> list[Row]:
    """Import and build the worker's app in a fresh interpreter, plugin vs raw."""
    samples: dict[str, list[float]] = {"plugin": [], "raw": []}
    with environment(**broker_env("memory://", "spakky-bench-import")):
        settings = raw_settings(build_celery_app(CeleryConfig()))
    with environment(
        **broker_env("memory://", "spakky-bench-import"), **{RAW_CONF_ENV: settings}
    ):
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
            name="import + build the worker app",
            unit="ms",
            ours=Stat.of(samples["plugin"]),
            raw=Stat.of(samples["raw"]),
        )
    ]
