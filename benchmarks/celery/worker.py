"""Section 2: worker-side cost per task, ``Task.apply`` in-process."""

from collections.abc import Callable
from functools import partial
from typing import Any

from celery import Celery
from spakky.core.application.application import SpakkyApplication

from benchmarks.celery.apps import build_plugin
from benchmarks.celery.dispatch import task_name
from benchmarks.celery.env import broker_env
from benchmarks.celery.old import OldColumn, old_samplers
from benchmarks.celery.raw_app import RAW_AWORK, RAW_WORK, build_raw
from benchmarks.harness.calls import ARGS, KWARGS, NO_PROPAGATORS, caller_context
from benchmarks.harness.core_api import HeaderPropagation, TaskCall, TaskRegistry
from benchmarks.harness.env import environment, unique
from benchmarks.harness.rows import Row
from benchmarks.harness.spakky_app import started
from benchmarks.harness.timing import compare, sampler

ASYNC = "async: long-lived loop vs asyncio.run"
UNPROTECTED = "sync, tracing + auth headers, unprotected task"
"""A signed-in, traced caller of an unprotected task: its dispatch sends the
trace only (snapshots go with protected tasks), so the raw task is like for like."""
TASK_ID = "spakky-bench-apply"
"""The id our endpoint's task is applied as, and its headers were made for."""


def worker_rows(number: int, repeat: int, old: OldColumn) -> list[Row]:
    """Our endpoint vs a plain Celery task vs 8.5.0's, with ``Task.apply``."""
    rows: list[Row] = []
    env = broker_env("memory://", unique("apply"))
    with environment(**env):
        raw = build_raw()
    for variant in (NO_PROPAGATORS, "tracing + auth"):
        with started(build_plugin, env, variant) as app:
            celery = app.container.get(Celery)
            cases: list[tuple[str, str, str, bool | None]] = [
                (f"sync, {variant}", "work", RAW_WORK, None)
            ]
            if variant == NO_PROPAGATORS:
                cases.append((ASYNC, "awork", RAW_AWORK, None))
            else:
                cases.append((UNPROTECTED, "work", RAW_WORK, False))
            for label, method, raw_name, protected in cases:
                name = task_name(app, method, variant, protected=protected)
                ours_call = partial(
                    celery.tasks[name].apply,
                    args=ARGS,
                    kwargs=KWARGS,
                    headers=_headers(app, variant, name) if method == "work" else {},
                    task_id=TASK_ID,
                )
                raw_call = partial(raw.tasks[raw_name].apply, args=ARGS, kwargs=KWARGS)
                case = {"kind": "worker", "variant": variant, "method": method}
                if protected is False:
                    case["unprotected"] = "yes"
                with old.driver(case, env) as driver:
                    _check(ours_call, raw_call, driver)
                    stats = compare(
                        {
                            "ours": sampler(ours_call),
                            "raw": sampler(raw_call),
                            **old_samplers(driver),
                        },
                        number=number,
                        repeat=repeat,
                    )
                rows.append(
                    old.row(
                        "worker",
                        label,
                        stats,
                        target=TARGETS.get(label, ""),
                    )
                )
    return rows


TARGETS = {f"sync, {NO_PROPAGATORS}": "≤ 1.05x", UNPROTECTED: "≤ 1.10x"}


def _headers(app: SpakkyApplication, variant: str, name: str) -> dict[str, str]:
    """The headers a caller of ``variant`` sends with task ``name`` as
    ``TASK_ID`` (a snapshot is bound to its message)."""
    binding = app.container.get(TaskRegistry).get(name)
    with caller_context(app, variant):
        return app.container.get(HeaderPropagation).inject(
            TaskCall(task=binding, task_id=TASK_ID, args=ARGS, kwargs=KWARGS)
        )


def _check(ours: Callable[[], Any], raw: Callable[[], Any], driver: Any | None) -> None:
    """Every side ran to the same value (the work is the same)."""
    values = [ours().get(), raw().get()]
    if driver is not None:
        values.append(driver.call("check")["value"])
    if len(set(values)) != 1:
        raise RuntimeError(f"different results (ours, raw, old): {values!r}")
