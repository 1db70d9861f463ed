"""Sections 1 and 2: dispatch cost per call, worker-side cost per task."""

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from typing import Any

from celery import Celery
from spakky.auth import AUTH_CONTEXT_CONTEXT_KEY, AuthContext, AuthSubject
from spakky.core.application.application import SpakkyApplication
from spakky.plugins.cryptography import Key
from spakky.tracing import TraceContext

from benchmarks.apps import BenchHandler, build_plugin
from benchmarks.env import (
    BROKERS,
    broker_env,
    delete_queue,
    environment,
    reachable,
    unique,
)
from benchmarks.harness import Row, paired
from benchmarks.raw_app import (
    RAW_AWORK,
    RAW_CONF_ENV,
    RAW_WORK,
    build_raw,
    raw_settings,
)
from spakky.dispatch.celery import CeleryConfig, build_celery_app
from spakky.dispatch.core.adapter import HeaderPropagation, TaskCall, TaskRegistry
from spakky.dispatch.tracing import TraceScope

ARGS: tuple[object, ...] = (1, "abc")
KWARGS: dict[str, object] = {"k": 2}
CALLER = AuthContext(
    subject=AuthSubject(id="user-42"),
    issuer="https://issuer.example",
    roles=("reader",),
    scopes=("reports:read",),
)
VARIANTS = ("no propagators", "tracing", "tracing + auth")
NO_CONFIRMS = "tracing, publisher confirms off"
"""Extra RabbitMQ variant: both sides without waiting for the broker's confirm."""


@contextmanager
def plugin_app(url: str, queue: str, variant: str) -> Iterator[SpakkyApplication]:
    """A started Spakky application for ``variant``, stopped after the block."""
    auth = variant == "tracing + auth"
    env = broker_env(url, queue)
    if variant == NO_CONFIRMS:
        env["SPAKKY_CELERY__PUBLISH_CONFIRM"] = "false"
    env["SPAKKY_AUTH_SNAPSHOT_PROPAGATION_ENABLED"] = "true" if auth else None
    env["SPAKKY_CRYPTOGRAPHY_SNAPSHOT_KEY"] = Key(size=32).b64_urlsafe if auth else None
    with environment(**env):
        app = build_plugin(tracing=variant != "no propagators", auth=auth)
    try:
        yield app
    finally:
        app.stop()


@contextmanager
def caller_context(app: SpakkyApplication, variant: str) -> Iterator[None]:
    """The caller's trace and identity the variant propagates."""
    with ExitStack() as stack:
        if variant != "no propagators":
            stack.enter_context(TraceScope(TraceContext.new_root()))
        if variant == "tracing + auth":
            app.application_context.set_context_value(AUTH_CONTEXT_CONTEXT_KEY, CALLER)
        yield


def dispatch_rows(number: int, repeat: int, brokers: tuple[str, ...]) -> list[Row]:
    """handler.method(...) through the plugin vs celery.send_task(...)."""
    rows: list[Row] = []
    for broker in brokers:
        url = BROKERS[broker]
        if not reachable(url):
            print(f"  skipping dispatch on {broker}: not reachable")
            continue
        variants = (*VARIANTS, NO_CONFIRMS) if broker == "rabbitmq" else VARIANTS
        for variant in variants:
            queue = unique("dispatch")
            with plugin_app(url, queue, variant) as app:
                celery = app.container.get(Celery)
                handler = app.container.get(BenchHandler)
                name = _task_name(app, "work")
                try:
                    with caller_context(app, variant):
                        ours, raw = paired(
                            partial(handler.work, *ARGS, **KWARGS),  # type: ignore[arg-type]
                            partial(celery.send_task, name, args=ARGS, kwargs=KWARGS),
                            number=number,
                            repeat=repeat,
                        )
                finally:
                    delete_queue(celery, queue)
            target = "≤ 0.75x" if broker != "memory" and variant == "tracing" else ""
            rows.append(
                Row(
                    section="1 dispatch",
                    name=f"{broker}, {variant}",
                    unit="µs/call",
                    ours=ours,
                    raw=raw,
                    target=target,
                )
            )
    return rows


def worker_rows(number: int, repeat: int) -> list[Row]:
    """Our endpoint vs a plain Celery task, in-process with ``Task.apply``."""
    rows: list[Row] = []
    queue = unique("apply")
    with environment(**broker_env("memory://", queue)):
        os.environ[RAW_CONF_ENV] = raw_settings(build_celery_app(CeleryConfig()))
        raw = build_raw()
        del os.environ[RAW_CONF_ENV]
    raw_work, raw_awork = raw.tasks[RAW_WORK], raw.tasks[RAW_AWORK]
    for variant in ("no propagators", "tracing + auth"):
        with plugin_app("memory://", queue, variant) as app:
            celery = app.container.get(Celery)
            headers = _headers(app, variant)
            work = celery.tasks[_task_name(app, "work")]
            awork = celery.tasks[_task_name(app, "awork")]
            cases: list[tuple[str, Callable[[], object], Callable[[], object]]] = [
                (
                    f"sync, {variant}",
                    partial(work.apply, args=ARGS, kwargs=KWARGS, headers=headers),
                    lambda: raw_work.apply(args=ARGS, kwargs=KWARGS),
                )
            ]
            if variant == "no propagators":
                cases.append(
                    (
                        "async: long-lived loop vs asyncio.run",
                        partial(awork.apply, args=ARGS, kwargs=KWARGS),
                        lambda: raw_awork.apply(args=ARGS, kwargs=KWARGS),
                    )
                )
            for label, ours_call, raw_call in cases:
                _check(ours_call(), raw_call())
                ours, base = paired(ours_call, raw_call, number=number, repeat=repeat)
                rows.append(
                    Row(
                        section="2 worker",
                        name=label,
                        unit="µs/task",
                        ours=ours,
                        raw=base,
                        target="≤ 1.05x" if label.startswith("sync, no") else "",
                    )
                )
    return rows


def _headers(app: SpakkyApplication, variant: str) -> dict[str, str]:
    """The headers a caller of ``variant`` sends with ``work``."""
    registry = app.container.get(TaskRegistry)
    binding = registry.get(_task_name(app, "work"))
    with caller_context(app, variant):
        headers = app.container.get(HeaderPropagation).inject(
            TaskCall(task=binding, task_id=None, args=ARGS, kwargs=KWARGS)
        )
    app.application_context.clear_context()
    return headers


def _task_name(app: SpakkyApplication, method: str) -> str:
    for binding in app.container.get(TaskRegistry):
        if binding.method_name == method:
            return binding.name
    raise LookupError(method)


def _check(ours: Any, raw: Any) -> None:
    """Both sides ran to the same value (the work is the same)."""
    if ours.get() != raw.get():
        raise RuntimeError(f"different results: {ours.get()!r} vs {raw.get()!r}")
