"""The default ``Celery`` pod, and how a user's own ``Celery`` pod replaces it."""

from celery import Celery
from spakky.core.pod.annotations.lazy import Lazy
from spakky.core.pod.annotations.pod import Pod
from spakky.core.pod.interfaces.application_context import IApplicationContext

from spakky.dispatch.celery import CeleryConfig, build_celery_app
from spakky.dispatch.core.startup import prefer_user_pod

DEFAULT_CELERY_POD_NAME = "spakky_celery_default_app"
"""Pod name of the ``Celery`` app the plugin builds from ``CeleryConfig``."""


@Lazy()  # type: ignore[arg-type]  # Lazy is honoured on function pods too
@Pod(name=DEFAULT_CELERY_POD_NAME)
def default_celery_app(config: CeleryConfig) -> Celery:
    """Build the application's Celery app from ``SPAKKY_CELERY__*`` settings."""
    return build_celery_app(config)


def prefer_user_celery_app(application_context: IApplicationContext) -> None:
    """Make a ``Celery`` pod registered by the user win over the default one.

    With exactly one user pod, ``Celery`` is bound to it; with several, the
    user's ``@Primary`` decides as usual. The default pod is lazy, so it is
    never built (and ``CeleryConfig`` never read) once a user pod exists.
    """
    prefer_user_pod(application_context, Celery, DEFAULT_CELERY_POD_NAME)
