"""The seed's bootstrap, verbatim; the worker runs ``...application:celery``."""

from celery import Celery
from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext

import spakky.plugins.celery

app = (
    SpakkyApplication(ApplicationContext())
    .load_plugins(include={spakky.plugins.celery.PLUGIN_NAME})
    .scan()
    .start()
)

celery = app.container.get(Celery)
"""The application's Celery app, for ``celery -A quickstart.application``."""
