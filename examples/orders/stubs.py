"""Stand-ins for what an order service talks to: database, mail, carrier, payments.

Each one is a plain pod, injected into the handlers like a real client would
be. Instead of talking to a real system they append JSON lines to files in the
data folder (``SPAKKY_EXAMPLE_DATA``), which the web process and the worker
process share, so the demo can show what "the outside world" saw:

- ``orders.jsonl``: the orders table (``OrderStore``);
- ``journal.jsonl``: every call made to the mail server, the carrier API and the
  payment gateway, with the pid of the process that made it and the trace id
  it was made in (what an instrumented HTTP client would send as
  ``traceparent``).
"""

import json
import os
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, override

from spakky.auth import (
    AuthorizationDecision,
    AuthorizationReasonCode,
    IRoleChecker,
    RoleCheckRequest,
)
from spakky.core.pod.annotations.pod import Pod
from spakky.tracing import TraceContext

DATA_VARIABLE = "SPAKKY_EXAMPLE_DATA"
"""Environment variable naming the folder shared by the web process and the worker."""

FAILING_CALLS = 2
"""How many times the carrier API answers 503 for a shipment before it books it."""


def data_folder() -> Path:
    """The shared data folder (``./orders-data`` when the variable is not set)."""
    folder = Path(os.environ.get(DATA_VARIABLE, "orders-data"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _append(path: Path, entry: dict[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as file:
        file.write(json.dumps(entry) + "\n")


def _read(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


@dataclass(frozen=True, slots=True, kw_only=True)
class Order:
    """One row of the orders table. Tasks get its fields, never the object."""

    order_id: str
    email: str
    address: str
    total_cents: int
    day: str
    """The day it was placed, ``YYYY-MM-DD``."""


@Pod()
class OrderStore:
    """Stands for the orders table of your database."""

    def add(self, order: Order) -> None:
        """Insert one order."""
        _append(data_folder() / "orders.jsonl", asdict(order))

    def placed_on(self, day: str) -> list[Order]:
        """The orders placed on ``day`` (``YYYY-MM-DD``)."""
        rows = _read(data_folder() / "orders.jsonl")
        return [Order(**row) for row in rows if row["day"] == day]


@Pod()
class Journal:
    """What the outside systems received, one JSON line per call."""

    def record(self, service: str, event: str, **details: object) -> None:
        """Append one call to ``service``, stamped with pid and trace id."""
        trace = TraceContext.get()
        entry: dict[str, Any] = {
            "service": service,
            "event": event,
            **details,
            "pid": os.getpid(),
            "trace_id": None if trace is None else trace.trace_id,
        }
        _append(data_folder() / "journal.jsonl", entry)

    def entries(self, service: str) -> list[dict[str, Any]]:
        """Every call made to ``service`` so far, oldest first."""
        return [
            e for e in _read(data_folder() / "journal.jsonl") if e["service"] == service
        ]


@Pod()
class Mailer:
    """Stands for an SMTP client."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def send(self, to: str, subject: str, body: str) -> str:
        """Send one e-mail; returns its message id."""
        message_id = f"<{uuid.uuid4().hex[:12]}@orders.example>"
        self.journal.record(
            "mail", "sent", to=to, subject=subject, body=body, message_id=message_id
        )
        return message_id


class ShippingUnavailableError(Exception):
    """The carrier's API answered 503 Service Unavailable: worth trying again."""


@Pod()
class CarrierApi:
    """Stands for a carrier's booking API that is flaky under load.

    For every shipment it answers 503 to the first ``FAILING_CALLS`` calls and
    books it on the next one. It remembers the calls in the journal, as a real
    service would on its side, so it behaves the same whichever worker process
    (or retry) makes the call.
    """

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def book(self, order_id: str, address: str) -> str:
        """Book a pickup; returns the tracking number.

        Raises:
            ShippingUnavailableError: The API is (for now) unavailable.
        """
        calls = [
            e for e in self.journal.entries("carrier") if e["order_id"] == order_id
        ]
        if len(calls) < FAILING_CALLS:
            self.journal.record("carrier", "503", order_id=order_id)
            raise ShippingUnavailableError(f"carrier API answered 503 for {order_id}")
        tracking = f"TRK-{uuid.uuid4().hex[:8].upper()}"
        self.journal.record(
            "carrier", "booked", order_id=order_id, address=address, tracking=tracking
        )
        return tracking


@Pod()
class PaymentGateway:
    """Stands for the payment provider's API."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def refund(self, order_id: str, amount_cents: int, approved_by: str) -> str:
        """Refund part or all of an order's payment; returns the refund id."""
        refund_id = f"RF-{uuid.uuid4().hex[:8].upper()}"
        self.journal.record(
            "payments",
            "refunded",
            order_id=order_id,
            amount_cents=amount_cents,
            approved_by=approved_by,
            refund_id=refund_id,
        )
        return refund_id


@Pod()
class RoleChecker(IRoleChecker):
    """Stands for your authorization service: answers ``@require_role`` checks.

    The worker asks it about the caller's verified identity (from the signed
    snapshot) before a protected task runs. Here a role is granted exactly when
    the identity provider put it into the caller's ``AuthContext``.
    """

    @override
    def check_role(self, request: RoleCheckRequest) -> AuthorizationDecision:
        if request.role in request.auth_context.roles:
            return AuthorizationDecision.allow()
        return AuthorizationDecision.deny(AuthorizationReasonCode.INSUFFICIENT_ROLE)
