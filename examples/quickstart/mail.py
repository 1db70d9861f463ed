"""A stand-in SMTP client: appends each e-mail to the outbox file."""

import json
import os
from pathlib import Path

OUTBOX_VARIABLE = "SPAKKY_EXAMPLE_OUTBOX"
"""Environment variable naming the outbox file shared with the worker."""


def send_smtp(to: str, subject: str, body: str) -> None:
    """Record one e-mail as a JSON line in the outbox, with the sender's pid."""
    outbox = Path(os.environ.get(OUTBOX_VARIABLE, "outbox.jsonl"))
    line = {"to": to, "subject": subject, "body": body, "pid": os.getpid()}
    with outbox.open("a", encoding="utf-8") as file:
        file.write(json.dumps(line) + "\n")
