"""``OrderService``: what the web endpoints call, in the web process.

It does the quick part of a request itself (store the order) and hands the slow
or unreliable parts (e-mail, carrier booking, refunds) to the workers by calling
``@task`` methods. Those calls return as soon as the message is on the broker.
"""

import uuid
from dataclasses import dataclass
from datetime import date

from spakky.core.pod.annotations.pod import Pod

from orders.handlers import NotificationHandler, RefundHandler, ShippingHandler
from orders.stubs import Order, OrderStore
from spakky.plugins.celery import ITaskHandle, TaskDispatcher


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    """A stored order and the handles of the tasks it started."""

    order: Order
    confirmation: ITaskHandle[str]
    """The confirmation e-mail task; its value is the e-mail's message id."""

    shipment: ITaskHandle[str]
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
        dispatcher: TaskDispatcher,
    ) -> None:
        self.store = store
        self.dispatcher = dispatcher
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
        # ``self.shipping.book_shipment(...)`` alone would send the task too;
        # TaskDispatcher.send also types the handle by the method (ITaskHandle
        # of what the method returns) and checks the arguments.
        send = self.dispatcher.send
        confirmation = send(
            self.notifications.send_order_confirmation,
            order.order_id,
            order.email,
            order.total_cents,
        )
        shipment = send(self.shipping.book_shipment, order.order_id, order.address)
        return PlacedOrder(order, confirmation, shipment)

    def refund(self, order_id: str, amount_cents: int) -> ITaskHandle[str]:
        """Ask for a refund; the worker decides whether the caller may."""
        return self.dispatcher.send(self.refunds.refund, order_id, amount_cents)
