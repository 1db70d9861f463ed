"""``OrderService``: what the web endpoints call, in the web process.

It does the quick part of a request itself (store the order) and hands the slow
or unreliable parts (e-mail, carrier booking, refunds) to the workers by calling
``@task`` methods. Those calls return as soon as the message is on the broker.
"""

import uuid
from dataclasses import dataclass
from datetime import date
from typing import cast

from spakky.core.pod.annotations.pod import Pod

from orders.handlers import NotificationHandler, RefundHandler, ShippingHandler
from orders.stubs import Order, OrderStore
from spakky.dispatch.celery import CeleryTaskResult


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    """A stored order and the handles of the tasks it started."""

    order: Order
    confirmation: CeleryTaskResult[str]
    """The confirmation e-mail task; its value is the e-mail's message id."""

    shipment: CeleryTaskResult[str]
    """The carrier booking task; its value is the tracking number."""


@Pod()
class OrderService:
    """Places and refunds orders; the handlers are injected like any pod."""

    def __init__(
        self,
        store: OrderStore,
        notifications: NotificationHandler,
        shipping: ShippingHandler,
        refunds: RefundHandler,
    ) -> None:
        self.store = store
        self.notifications = notifications
        self.shipping = shipping
        self.refunds = refunds

    def place_order(self, email: str, address: str, total_cents: int) -> PlacedOrder:
        """Store the order, then send the confirmation and book the shipment."""
        order = Order(
            order_id=f"A-{uuid.uuid4().hex[:6].upper()}",
            email=email,
            address=address,
            total_cents=total_cents,
            day=date.today().isoformat(),
        )
        self.store.add(order)
        # Outside a worker a @task call returns a result handle, not the
        # method's declared return type: the casts tell the type checker so.
        confirmation = self.notifications.send_order_confirmation(
            order.order_id, order.email, order.total_cents
        )
        shipment = self.shipping.book_shipment(order.order_id, order.address)
        return PlacedOrder(
            order,
            cast(CeleryTaskResult[str], confirmation),
            cast(CeleryTaskResult[str], shipment),
        )

    def refund(self, order_id: str, amount_cents: int) -> CeleryTaskResult[str]:
        """Ask for a refund; the worker decides whether the caller may."""
        return cast(CeleryTaskResult[str], self.refunds.refund(order_id, amount_cents))
