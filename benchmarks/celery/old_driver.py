"""The old column's driver: ``<old env>/bin/python -m benchmarks.celery.old_driver CASE``.

Runs in spakky-celery 8.5.0's environment (``benchmarks.harness.oldvenv``),
builds the old distribution's application for the case (JSON: ``kind`` and
``variant``) and answers the benchmark's commands (``benchmarks.harness.remote``):

- ``dispatch``: ``sample`` times ``handler.work(1, "abc", k=2)`` through the
  old plugin's aspect (``send_task`` with its headers), from the caller of the
  variant (trace, identity);
- ``worker``: ``sample`` times ``Task.apply`` of the old plugin's task for
  ``method``, with the headers its own dispatch sends (of the unprotected
  handler when the case says ``unprotected``); ``check`` returns one result;
- ``ticks``: ``send`` makes ``number`` ``handler.tick()`` calls (end to end).
"""

import json
import sys
from collections.abc import Callable
from contextlib import ExitStack
from functools import partial
from typing import Any

from celery import Celery

from benchmarks.celery.old_app import build_old
from benchmarks.harness.calls import ARGS, KWARGS, caller_context, signed, traced
from benchmarks.harness.remote import serve
from benchmarks.harness.spakky_app import measured_handler, measured_type
from benchmarks.harness.timing import per_call_us


def _task(celery: Celery, method: str, variant: str, protected: bool | None) -> Any:
    """The old plugin's Celery task of the variant's ``<handler>.<method>``."""
    suffix = f".{measured_type(variant, protected=protected).__name__}.{method}"
    return next(task for name, task in celery.tasks.items() if name.endswith(suffix))


def _sent_headers(
    app: Any, celery: Celery, variant: str, protected: bool | None
) -> dict[str, object]:
    """The headers the old plugin sends with ``work`` from the variant's caller."""
    sent: dict[str, object] = {}
    send_task = celery.send_task

    def capture(*args: Any, headers: Any = None, **options: Any) -> Any:
        sent.update(headers or {})
        return send_task(*args, headers=headers, **options)

    celery.send_task = capture  # type: ignore[method-assign]
    try:
        with caller_context(app, variant):
            measured_handler(app, variant, protected=protected).work(*ARGS, **KWARGS)
    finally:
        del celery.send_task  # the class's method again
    return sent


def main(case: dict[str, str]) -> None:
    """Build the case's application and serve the benchmark's commands."""
    variant = case.get("variant", "no propagators")
    app = build_old(tracing=traced(variant), auth=signed(variant))
    celery = app.container.get(Celery)
    handler = measured_handler(app, variant)
    commands: dict[str, Callable[..., dict[str, object]]] = {}
    with ExitStack() as stack:
        stack.callback(app.stop)
        if case["kind"] == "dispatch":
            stack.enter_context(caller_context(app, variant))
            call = partial(handler.work, *ARGS, **KWARGS)
            commands["sample"] = lambda number: {"us": per_call_us(call, number)}
        elif case["kind"] == "worker":
            protected = False if case.get("unprotected") else None
            headers = _sent_headers(app, celery, variant, protected)
            task = _task(celery, case["method"], variant, protected)
            apply = partial(task.apply, args=ARGS, kwargs=KWARGS, headers=headers)
            commands["sample"] = lambda number: {"us": per_call_us(apply, number)}
            commands["check"] = lambda: {"value": apply().get()}
        else:  # ticks, end to end
            commands["send"] = lambda number: _ticks(handler, number)
        serve(commands)


def _ticks(handler: Any, number: int) -> dict[str, object]:
    for _ in range(number):
        handler.tick()
    return {"sent": number}


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
