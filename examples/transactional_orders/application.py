"""The application: spakky-data, spakky-sqlalchemy, spakky-celery and the outbox.

The worker runs ``-A transactional_orders.application:celery``.
"""

import spakky.data
import spakky.plugins.sqlalchemy
from celery import Celery
from spakky.core.application.application import SpakkyApplication
from spakky.core.application.application_context import ApplicationContext

import spakky.dispatch.outbox
import spakky.plugins.celery
from transactional_orders.shop import MailTasks, PlaceOrder


def build_app() -> SpakkyApplication:
    """The application, from the environment (see ``__main__`` for the defaults)."""
    return (
        SpakkyApplication(ApplicationContext())
        .load_plugins(
            include={
                spakky.data.PLUGIN_NAME,
                spakky.plugins.sqlalchemy.PLUGIN_NAME,
                spakky.plugins.celery.PLUGIN_NAME,
                spakky.dispatch.outbox.PLUGIN_NAME,
            }
        )
        .add(MailTasks)
        .add(PlaceOrder)
        .start()
    )


def __getattr__(name: str) -> Celery:
    if name != "celery":
        raise AttributeError(name)
    return build_app().container.get(Celery)
