"""Section 1: dispatch cost per call, ours against ``send_task`` and 8.5.0."""

from functools import partial

from celery import Celery
from spakky.core.application.application import SpakkyApplication

from benchmarks.celery.apps import build_plugin
from benchmarks.celery.env import BROKERS, broker_env, delete_queue
from benchmarks.celery.old import OldColumn, old_samplers
from benchmarks.harness.calls import (
    ARGS,
    KWARGS,
    NO_PROPAGATORS,
    VARIANTS,
    caller_context,
)
from benchmarks.harness.core_api import TaskRegistry
from benchmarks.harness.env import reachable_brokers, unique
from benchmarks.harness.rows import Row
from benchmarks.harness.spakky_app import measured_handler, measured_type, started
from benchmarks.harness.timing import compare, sampler

NO_CONFIRMS = "tracing, publisher confirms off"
"""Extra RabbitMQ variant: every side without waiting for the broker's confirm."""


def dispatch_rows(
    number: int, repeat: int, brokers: tuple[str, ...], old: OldColumn
) -> list[Row]:
    """handler.method(...) through the plugin vs celery.send_task(...) vs 8.5.0.

    Raw ``send_task`` runs on our plugin's own Celery app; the old
    distribution's app has the same Celery settings (``settings.copied``).
    """
    rows: list[Row] = []
    for broker, url in reachable_brokers(BROKERS, brokers, "dispatch"):
        variants = (*VARIANTS, NO_CONFIRMS) if broker == "rabbitmq" else VARIANTS
        for variant in variants:
            queue = unique("dispatch")
            extra = {"SPAKKY_CELERY__PUBLISH_CONFIRM": "false"}
            env = broker_env(url, queue, **(extra if variant == NO_CONFIRMS else {}))
            case = {"kind": "dispatch", "variant": variant}
            with (
                started(build_plugin, env, variant) as app,
                old.driver(case, env) as driver,
            ):
                celery = app.container.get(Celery)
                handler = measured_handler(app, variant)
                try:
                    with caller_context(app, variant):
                        stats = compare(
                            {
                                "ours": sampler(partial(handler.work, *ARGS, **KWARGS)),
                                "raw": sampler(
                                    partial(
                                        celery.send_task,
                                        task_name(app, "work"),
                                        args=ARGS,
                                        kwargs=KWARGS,
                                    )
                                ),
                                **old_samplers(driver),
                            },
                            number=number,
                            repeat=repeat,
                        )
                finally:
                    delete_queue(celery, queue)
            target = "≤ 0.75x" if broker != "memory" and variant == "tracing" else ""
            rows.append(
                old.row("dispatch", f"{broker}, {variant}", stats, target=target)
            )
    return rows


def task_name(
    app: SpakkyApplication,
    method: str,
    variant: str = NO_PROPAGATORS,
    *,
    protected: bool | None = None,
) -> str:
    """The task name of ``<handler>.<method>`` in our plugin's app, for the
    handler the variant's caller calls (``measured_type``)."""
    suffix = f".{measured_type(variant, protected=protected).__name__}.{method}"
    for binding in app.container.get(TaskRegistry):
        if binding.name.endswith(suffix):
            return binding.name
    raise LookupError(suffix)
