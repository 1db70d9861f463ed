"""The application of the transactional-dispatch tests: ``-A tests.outbox.apps.shop:celery``.

spakky-data and spakky-sqlalchemy (PostgreSQL from ``SPAKKY_SQLALCHEMY__*``),
the spakky-celery transport, spakky-dispatch-outbox, spakky-tracing (W3C) and
spakky-cryptography's snapshot signer. ``build_taskiq_app`` is the same shop on spakky-taskiq.
"""

import spakky.data
import spakky.plugins.cryptography
import spakky.plugins.sqlalchemy
from spakky.core.application.application import SpakkyApplication
from spakky.tracing import PLUGIN_NAME as TRACING_PLUGIN_NAME

import spakky.dispatch.outbox
from tests.outbox.apps.shop_handlers import (
    ClaimsRoleChecker,
    MailTasks,
    PlaceOrder,
    PlaceOrderAsync,
)
from tests.support.apps import build_app as build
from tests.support.apps import celery_attributes

BASE_PLUGINS = {
    spakky.data.PLUGIN_NAME,
    spakky.plugins.sqlalchemy.PLUGIN_NAME,
    spakky.plugins.cryptography.PLUGIN_NAME,
    spakky.dispatch.outbox.PLUGIN_NAME,
    TRACING_PLUGIN_NAME,
}


PODS = (MailTasks, PlaceOrder, PlaceOrderAsync, ClaimsRoleChecker)


def build_app() -> SpakkyApplication:
    """The shop on Celery, from the current environment."""
    return build("celery", *PODS, plugins=BASE_PLUGINS)


def build_taskiq_app() -> SpakkyApplication:
    """The shop on taskiq, from the current environment."""
    return build("taskiq", *PODS, plugins=BASE_PLUGINS)


__getattr__ = celery_attributes(celery=build_app)
