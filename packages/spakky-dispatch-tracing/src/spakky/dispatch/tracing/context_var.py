"""The trace context's variable, read and written directly by ``TraceScope``.

This module is the one place that reads spakky-tracing's private variable.
``TraceContext.get`` / ``set`` / ``clear`` are thin wrappers around one
``ContextVar`` (``spakky.tracing.context._trace_context``), but ``get``
evaluates ``cast(Self | None, ...)``, which builds a ``typing`` union on every
call: about 0.7 µs, against 0.02 µs for the variable's own ``get``. A worker
opens a trace scope for every task (a child span or a new root), and the
scope saves the previous context on entry, so ``TraceScope`` uses the
variable itself when ``trace_var`` finds it.

Guard: ``trace_var_problem`` checks once that the variable is a
``ContextVar`` whose default is None and that spakky-tracing's ``get``,
``set`` and ``clear`` read and write exactly it (inside a copied
``contextvars`` context, so nothing leaks). When they do not, ``trace_var``
logs one warning and answers None: ``TraceScope`` calls ``TraceContext``'s
methods (the public path). ``tests/test_tracing_context_var.py`` compares
both paths.
"""

import logging
from contextvars import ContextVar, copy_context
from functools import cache

import spakky.tracing.context as tracing_context
from spakky.tracing import TraceContext

from spakky.dispatch.core.adapter import FallbackWarning

logger = logging.getLogger(__name__)

_VARIABLE = "_trace_context"
"""Name of spakky-tracing's variable in ``spakky.tracing.context``."""


def _variable() -> object:
    return getattr(tracing_context, _VARIABLE, None)


def _probe(var: "ContextVar[TraceContext | None]") -> list[str]:
    """What spakky-tracing does not do through ``var`` (run in a copied context)."""
    sample = TraceContext(trace_id="4bf92f3577b34da6a3ce929d0e0e4736", span_id="1" * 16)
    other = TraceContext(trace_id="4bf92f3577b34da6a3ce929d0e0e4737", span_id="2" * 16)
    changed = []
    if var.get() is not None or TraceContext.get() is not None:
        changed.append("default")
    TraceContext.set(sample)
    if var.get() is not sample:
        changed.append("TraceContext.set")
    var.set(other)
    if TraceContext.get() is not other:
        changed.append("TraceContext.get")
    TraceContext.clear()
    if var.get() is not None:
        changed.append("TraceContext.clear")
    return changed


@cache
def trace_var_problem() -> str | None:
    """Why spakky-tracing no longer keeps the context as read here, or None."""
    var = _variable()
    if not isinstance(var, ContextVar):
        return f"spakky.tracing.context.{_VARIABLE} is not a ContextVar"
    try:
        changed = copy_context().run(_probe, var)
    except Exception as error:  # any failure means the shape is not the known one
        return f"spakky-tracing changed ({type(error).__name__}: {error})"
    return f"changed: {', '.join(changed)}" if changed else None


_warn = FallbackWarning(
    logger,
    "spakky-dispatch-tracing: spakky-tracing differs from the one its trace "
    "scope was written for (%s); task trace scopes go through TraceContext's "
    "methods, which is correct but slower. Update spakky-dispatch-tracing.",
)
"""Logs the probe's finding once per process."""


def trace_var() -> "ContextVar[TraceContext | None] | None":
    """spakky-tracing's variable, or None (with one warning) when the check fails."""
    problem = trace_var_problem()
    if problem is not None:
        _warn(problem)
        return None
    var = _variable()
    assert isinstance(var, ContextVar)
    return var
