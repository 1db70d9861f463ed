"""Poison messages for taskiq workers: raw bytes as a hostile producer sends them.

Each ``Attack`` is what lands in the queue (a Redis stream entry's ``data``, a
Redis list item, a RabbitMQ message body), bypassing every check of ours, and
whether the worker must refuse it (dead letter, one line) or may run it.
"""

import json
import uuid
from dataclasses import dataclass

CARD = "4111 1111 1111 1111"
"""A card number inside a body: it must never reach a log."""

FORGED = "[2026-01-01 00:00:00,000][taskiq.receiver.receiver][INFO   ] forged line"
"""A forged log line carried after a newline in a task id, name or keyword."""

RECORD = "tests.faults.apps.reliable_handlers.LedgerHandler.record"


@dataclass(frozen=True, slots=True)
class Attack:
    """One poison message."""

    name: str
    data: bytes
    refused: bool
    """Whether the worker must refuse it (else it runs, or fails as a task)."""

    job: str | None = None
    """The ledger job it records when it runs."""


def message(job: str, **fields: object) -> bytes:
    """A taskiq message for ``LedgerHandler.record(job)`` with ``fields`` replaced."""
    body: dict[str, object] = {
        "task_id": uuid.uuid4().hex,
        "task_name": RECORD,
        "labels": {},
        "labels_types": {},
        "args": [job],
        "kwargs": {},
    }
    body.update(fields)
    return json.dumps(body).encode()


def attacks(run: str) -> list[Attack]:
    """Every attack of the suite; jobs that run are named after ``run``."""
    card = CARD.encode()
    nested = b"[" * 100_000 + b"]" * 100_000
    return [
        Attack("not JSON", b"\x00\x01not json " + card, refused=True),
        Attack("not UTF-8, card digits", b"\xff\xfe" + card + b"\xc3\x28", True),
        Attack("JSON list", json.dumps([1, CARD]).encode(), refused=True),
        Attack("missing fields", json.dumps({"note": CARD}).encode(), refused=True),
        Attack(
            "labels nested 100000 deep",
            b'{"task_id":"d","task_name":"' + RECORD.encode() + b'","labels":'
            b'{"x":' + nested + b'},"args":[],"kwargs":{}}',
            refused=True,
        ),
        Attack(
            "unregistered task name with a newline",
            message(CARD, task_name=f"no.such.Task\n{FORGED}"),
            refused=True,
        ),
        Attack(
            "label not of its declared type",
            message(CARD, labels={"x": CARD}, labels_types={"x": 99}),
            refused=True,
        ),
        Attack(
            "ack_type manual",
            message(CARD, labels={"ack_type": "manual"}),
            refused=True,
        ),
        Attack(
            "ack_type invalid",
            message(CARD, labels={"ack_type": CARD}),
            refused=True,
        ),
        Attack(
            "timeout label not a number",
            message(CARD, labels={"timeout": CARD}),
            refused=True,
        ),
        Attack(
            "keyword colliding with the endpoint's context",
            message(CARD, kwargs={"_spakky_taskiq_context": CARD}),
            refused=True,
        ),
        Attack("args not a list", message("x", args=CARD), refused=True),
        Attack(
            "huge label (1 MB)",
            message(f"{run}-huge", labels={"x": "A" * 1_000_000 + CARD}),
            refused=False,
            job=f"{run}-huge",
        ),
        Attack(
            "task id with a newline",
            message(f"{run}-newline", task_id=f"id\n{FORGED}"),
            refused=False,
            job=f"{run}-newline",
        ),
        Attack(
            "keyword name with a newline (arguments do not fit)",
            message(CARD, args=[], kwargs={f"job\n{FORGED}": CARD}),
            refused=False,
        ),
    ]
