"""The default ``Celery`` pod; a user's own ``Celery`` pod replaces it."""

from celery import Celery
from spakky.core.pod.annotations.lazy import Lazy
from spakky.core.pod.annotations.pod import Pod

from spakky.dispatch.celery import CeleryConfig, build_celery_app
from spakky.dispatch.core.adapter import Fallback

DEFAULT_CELERY_POD_NAME = "spakky_celery_default_app"
"""Pod name of the ``Celery`` app the plugin builds from ``CeleryConfig``."""


@Fallback()
@Lazy()  # type: ignore[arg-type]  # Lazy is honoured on function pods too
@Pod(name=DEFAULT_CELERY_POD_NAME)
def default_celery_app(config: CeleryConfig) -> Celery:
    """Build the application's Celery app from ``SPAKKY_CELERY__*`` settings.

    Lazy and a ``@Fallback``: once the application registers a ``Celery``
    pod of its own, that one is used and this one (with ``CeleryConfig``) is
    never built.
    """
    return build_celery_app(config)
