"""The application of the auth end-to-end tests: ``-A tests.e2e.apps.auth:celery``.

The spakky-celery plugin plus spakky-cryptography's HS256 snapshot signer and
verifier (key: ``SPAKKY_CRYPTOGRAPHY_SNAPSHOT_KEY``, shared by both processes).
"""

import spakky.plugins.cryptography
from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext

import spakky.plugins.celery
from tests.e2e.apps import auth_handlers
from tests.support.apps import celery_attributes


def build_app(*, signer: bool = True) -> SpakkyApplication:
    """A fresh application from the current environment; without a signer on demand."""
    plugins = {spakky.plugins.celery.PLUGIN_NAME}
    if signer:
        plugins.add(spakky.plugins.cryptography.PLUGIN_NAME)
    return (
        SpakkyApplication(ApplicationContext())
        .load_plugins(include=plugins)
        .scan(auth_handlers)
        .start()
    )


__getattr__ = celery_attributes(celery=build_app)
