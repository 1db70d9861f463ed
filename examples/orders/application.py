"""The order service's application, the same in the web process and the worker.

Three plugins:

- ``spakky-celery``: ``@task`` calls go to the broker, workers run them; it also
  brings trace propagation and the worker-side auth checks;
- ``spakky-tracing``: registers the W3C ``traceparent`` format, so the trace
  of a request continues in the tasks it sends;
- ``spakky-cryptography``: signs the caller's identity into each message and
  verifies it on the worker (HS256, key ``SPAKKY_CRYPTOGRAPHY_SNAPSHOT_KEY``,
  which every process must share).

The worker runs it with
``spakky-celery worker orders.application:build_app --pool solo``.
"""

import spakky.plugins.cryptography
import spakky.tracing
from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext

import spakky.plugins.celery
from orders import handlers, service, stubs


def build_app() -> SpakkyApplication:
    """Build and start the application from the environment (``SPAKKY_*``)."""
    return (
        SpakkyApplication(ApplicationContext())
        .load_plugins(
            include={
                spakky.plugins.celery.PLUGIN_NAME,
                spakky.tracing.PLUGIN_NAME,
                spakky.plugins.cryptography.PLUGIN_NAME,
            }
        )
        .scan(handlers)
        .scan(service)
        .scan(stubs)
        .start()
    )
