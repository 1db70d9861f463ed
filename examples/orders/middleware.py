"""``request_scope``: what your web framework's middleware does for each request.

Two things travel from a request to the tasks it sends, both read by the
dispatch pipeline at the moment of the ``@task`` call:

- the current ``TraceContext`` (spakky-tracing): written into the message as a
  W3C ``traceparent`` header, so the worker runs the task in a child span of
  the request's trace;
- the caller's ``AuthContext`` (spakky-auth), kept in the application's
  context scope: signed into the message as a snapshot, so the worker can
  decide whether this caller may run a protected task.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from spakky.auth import AuthContext, store_auth_context
from spakky.core.application.application import SpakkyApplication
from spakky.tracing import TraceContext

from spakky.plugins.celery import TraceScope


@contextmanager
def request_scope(
    app: SpakkyApplication, caller: AuthContext | None
) -> Iterator[TraceContext]:
    """Run a block as one request of ``caller`` (None: not logged in).

    The request starts a new trace (a real middleware would continue the
    trace of an incoming ``traceparent`` header, if any); the block gets the
    request's ``TraceContext``. Identity and trace are gone after the block.
    """
    context = app.application_context
    context.clear_context()  # nothing left over from an earlier request
    if caller is not None:
        store_auth_context(context, caller)  # as your authentication layer would
    trace = TraceContext.new_root()
    try:
        with TraceScope(trace):
            yield trace
    finally:
        context.clear_context()
