"""The order service's background work: four task handlers.

Calling a ``@task`` method of a handler taken from the container sends the call
to the broker and returns a result handle; the worker runs the same method with
its dependencies injected. Arguments are plain data (ids, strings, cents),
because they travel as JSON.

Every handler logs the trace id it runs in, so the worker's log shows that the
trace of the web request continues in the task.
"""

import logging
from datetime import date, time, timedelta

from spakky.auth import require_auth_context, require_role
from spakky.core.pod.interfaces.application_context import IApplicationContext
from spakky.core.pod.interfaces.aware.application_context_aware import (
    IApplicationContextAware,
)
from spakky.task import TaskHandler, schedule, task
from spakky.tracing import TraceContext

from orders.stubs import (
    CarrierApi,
    Mailer,
    OrderStore,
    PaymentGateway,
    ShippingUnavailableError,
)
from spakky.plugins.celery import RetryPolicy, task_options

logger = logging.getLogger(__name__)

FINANCE_ROLE = "finance"
"""The role a caller needs to refund an order."""


def current_trace_id() -> str | None:
    """The trace id the code runs in: on the worker, the caller's trace."""
    context = TraceContext.get()
    return None if context is None else context.trace_id


def money(cents: int) -> str:
    """``5980`` -> ``'59.80'``."""
    return f"{cents / 100:.2f}"


@TaskHandler()
class NotificationHandler:
    """E-mails to customers, sent in the background so requests stay fast."""

    def __init__(self, mailer: Mailer) -> None:
        self.mailer = mailer

    @task
    def send_order_confirmation(self, order_id: str, to: str, total_cents: int) -> str:
        """Send the order confirmation; returns the e-mail's message id."""
        message_id = self.mailer.send(
            to,
            f"Order {order_id} confirmed",
            f"Thank you for your order. Total: {money(total_cents)} EUR.",
        )
        logger.info(
            "order %s: confirmation %s sent to %s in trace %s",
            order_id,
            message_id,
            to,
            current_trace_id(),
        )
        return message_id


@TaskHandler()
class ShippingHandler:
    """Books the pickup with the carrier, whose API fails now and then."""

    def __init__(self, carrier: CarrierApi) -> None:
        self.carrier = carrier

    # When the carrier answers 503 the worker retries the task after 0.5 s,
    # then 1 s, 2 s, ... (each delay drawn at random up to that value), at most
    # 5 times. Other errors fail the task at once.
    @task_options(
        retry=RetryPolicy(
            max_retries=5,
            backoff=0.5,
            backoff_max=8.0,
            retry_on=(ShippingUnavailableError,),
        )
    )
    @task
    def book_shipment(self, order_id: str, address: str) -> str:
        """Book the shipment; returns the tracking number."""
        tracking = self.carrier.book(order_id, address)
        logger.info(
            "order %s: shipment booked, tracking %s, in trace %s",
            order_id,
            tracking,
            current_trace_id(),
        )
        return tracking


@TaskHandler()
class ReportHandler:
    """The nightly sales report for the finance team."""

    def __init__(self, store: OrderStore, mailer: Mailer) -> None:
        self.store = store
        self.mailer = mailer

    # Beat sends it every night at 02:00 without arguments (a report of the
    # day before); because it is also a @task, calling it sends it on demand,
    # for any day.
    @task
    @schedule(at=time(2, 0))
    def nightly_sales_report(self, day: str | None = None) -> dict[str, int | str]:
        """Total the orders of ``day`` (default: yesterday) and mail finance."""
        report_day = day or (date.today() - timedelta(days=1)).isoformat()
        orders = self.store.placed_on(report_day)
        revenue_cents = sum(order.total_cents for order in orders)
        self.mailer.send(
            "finance@example.com",
            f"Sales report {report_day}",
            f"{len(orders)} orders, revenue {money(revenue_cents)} EUR.",
        )
        logger.info("sales report %s: %d orders", report_day, len(orders))
        return {
            "day": report_day,
            "orders": len(orders),
            "revenue_cents": revenue_cents,
        }


@TaskHandler()
class RefundHandler(IApplicationContextAware):
    """Refunds: protected, so the worker checks who asked before running one.

    ``@require_role`` is enforced on the worker, against the caller's identity
    carried in the message as a signed snapshot. A caller without the role, or
    without any identity, is refused there and the method never runs.
    """

    def __init__(self, payments: PaymentGateway) -> None:
        self.payments = payments
        self.context: IApplicationContext | None = None

    def set_application_context(self, application_context: IApplicationContext) -> None:
        self.context = application_context

    @require_role(FINANCE_ROLE)
    @task
    def refund(self, order_id: str, amount_cents: int) -> str:
        """Refund ``amount_cents`` of an order; returns the refund id."""
        assert self.context is not None
        caller = require_auth_context(self.context)  # the verified caller
        refund_id = self.payments.refund(order_id, amount_cents, caller.subject.id)
        logger.info(
            "order %s: %s refunded %s, approved by %s",
            order_id,
            refund_id,
            money(amount_cents),
            caller.subject.id,
        )
        return refund_id
