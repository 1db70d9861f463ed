"""Poison messages for the fault suite: raw Redis items and AMQP messages.

Each builder returns what a hostile or broken producer could put on the
broker, bypassing every check of ours. ``redis_item`` builds the JSON envelope
kombu's Redis transport stores in a list; ``amqp_message`` the properties and
body of a RabbitMQ message. Both carry a Celery protocol-2 task message for
``task`` unless the attack replaces a part of it.
"""

import base64
import json
import uuid
import zlib
from dataclasses import dataclass, field

CARD = "4111 1111 1111 1111 cvv 737"
"""A card number and CVV inside a test body: they must never reach a log."""

FORGED = "[2026-01-01 00:00:00,000: ERROR/MainProcess] forged line"
"""A forged log prefix carried after a newline in a task id."""

BOMB_BYTES = 256 * 1024 * 1024
"""What the zlib bomb inflates to (256 MiB of zeros from about 261 KB)."""


def task_body(job: str) -> bytes:
    """A protocol-2 task body: args ``(job,)``, no kwargs, no callbacks."""
    embed = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
    return json.dumps([[job], {}, embed]).encode()


def task_headers(task: str, task_id: str | None = None) -> dict[str, object]:
    """Celery's protocol-2 headers for ``task``."""
    task_id = task_id or str(uuid.uuid4())
    return {
        "lang": "py",
        "task": task,
        "id": task_id,
        "root_id": task_id,
        "parent_id": None,
        "group": None,
        "retries": 0,
        "eta": None,
        "expires": None,
        "timelimit": [None, None],
        "argsrepr": "",
        "kwargsrepr": "",
        "origin": "poison@test",
        "ignore_result": True,
    }


def zlib_bomb(size: int = BOMB_BYTES) -> bytes:
    """``size`` zero bytes, zlib-compressed (about 1/1030 of ``size``)."""
    compressor = zlib.compressobj(9)
    chunk = bytes(1024 * 1024)
    parts = [compressor.compress(chunk) for _ in range(size // len(chunk))]
    return b"".join([*parts, compressor.flush()])


def nested(depth: int) -> dict[str, object]:
    """A mapping nested ``depth`` levels deep, built without recursion."""
    value: dict[str, object] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


def nested_json(depth: int) -> str:
    """The JSON text of ``nested(depth)``, built as text (json.dumps would recurse)."""
    return '{"a": ' * depth + "{}" + "}" * depth


@dataclass(frozen=True, slots=True)
class Attack:
    """One poison message: the body and headers it replaces in a good task."""

    name: str
    body: bytes | None = None
    headers: dict[str, object] = field(default_factory=dict)
    content_type: str = "application/json"
    raw_item: bytes | None = None
    """Redis only: the whole list item, replacing the envelope."""
    body_text: str | None = None
    """Redis only: the envelope's ``body`` string as is (not base64 of ``body``)."""
    deep_headers: int = 0
    """Nest a header this many levels deep."""


def redis_item(attack: Attack, task: str, job: str, queue: str) -> bytes:
    """The Redis list item for ``attack`` (an envelope as kombu stores it)."""
    if attack.raw_item is not None:
        return attack.raw_item
    headers = {**task_headers(task), **attack.headers}
    body = attack.body if attack.body is not None else task_body(job)
    envelope = {
        "body": attack.body_text or base64.b64encode(body).decode(),
        "content-encoding": "utf-8",
        "content-type": attack.content_type,
        "headers": "__HEADERS__",
        "properties": {
            "correlation_id": headers["id"],
            "reply_to": "",
            "delivery_mode": 2,
            "delivery_info": {"exchange": "", "routing_key": queue},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": str(uuid.uuid4()),
        },
    }
    text = json.dumps(headers)
    if attack.deep_headers:
        text = text[:-1] + f', "deep": {nested_json(attack.deep_headers)}}}'
    return json.dumps(envelope).replace('"__HEADERS__"', text).encode()


ATTACKS_REDIS = [
    Attack("item not JSON", raw_item=b"\x00\xffnot json " + CARD.encode()),
    Attack("item a JSON list", raw_item=b'["a", 1, {"b": 2}]'),
    Attack("item a JSON string", raw_item=b'"just a string"'),
    Attack("envelope without properties", raw_item=b'{"body": "e30=", "headers": {}}'),
    Attack("body not base64", body_text="%%% not base64 " + CARD),
    Attack("headers nested 100k deep", deep_headers=100_000),
]
"""Envelope attacks only Redis has (RabbitMQ frames messages itself)."""


def common_attacks(record: str) -> list[Attack]:
    """Attacks on both brokers, against the task ``record``."""
    return [
        Attack("body not UTF-8", body=b'["\xff\xfe' + CARD.encode() + b'", {}]'),
        Attack("body not JSON", body=b"{{{ " + CARD.encode()),
        Attack(
            "compression not configured (zlib bomb)",
            body=zlib_bomb(),
            headers={"compression": "application/x-gzip"},
        ),
        Attack("unknown compression", body=b"xx", headers={"compression": "x-evil"}),
        Attack(
            "task id with a newline", headers={"id": f"id-1\n{FORGED}", "task": record}
        ),
        Attack(
            "unknown task name with a newline",
            headers={"task": f"no.such.task\n{FORGED}", "id": f"id-2\n{FORGED}"},
        ),
    ]
