"""Message bindings: what ties a signed snapshot to exactly one task message.

A snapshot signs the caller's ``AuthContext`` claims, so the dispatching side
adds one claim, ``spakky.dispatch.binding``, to a copy of the caller's context
before it is signed. Its value is the canonical JSON of a ``MessageBinding``:
the audience (the application), the task name, the message id, a SHA-256
digest of the arguments and, for a delayed call, the time it may run from.
The worker recomputes the binding of the message it received and compares
the two in constant time; the claim is removed before anyone sees the
context.

Both sides must digest the same arguments although the worker sees them after
a serializer round trip (tuples become lists), so arguments are reduced to a
canonical form first: plain JSON values only, lists for tuples, dict keys
sorted, no whitespace, ASCII escapes.
"""

import hashlib
import hmac
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

BINDING_CLAIM: Final = "spakky.dispatch.binding"
"""Name of the claim that carries the binding inside the signed snapshot."""

BINDING_VERSION: Final = 1
"""Version of the binding's JSON layout (``v``)."""

_FIELDS: Final = frozenset({"v", "aud", "task", "id", "args", "nbf"})

_CANONICAL: Final = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
)
"""Canonical JSON: what ``json.dumps`` with these options writes (it builds
this encoder anew on every call; one made once writes the same)."""


class NotPlainValueError(ValueError):
    """An argument has no canonical JSON form (internal; callers map it)."""

    def __init__(self, label: str, what: str) -> None:
        super().__init__(f"{label} is {what}")
        self.label = label
        self.what = what


def _plain(value: object, label: str) -> object:
    """``value`` as plain JSON data (tuples as lists), or NotPlainValueError."""
    if value is None or isinstance(value, (str, int)):  # bool is an int
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        raise NotPlainValueError(label, f"a non-finite float ({value})")
    if isinstance(value, (list, tuple)):
        return [_plain(item, label) for item in value]
    if isinstance(value, dict):
        plain: dict[str, object] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise NotPlainValueError(
                    label, f"a dict with a key of type {type(key).__name__}"
                )
            plain[key] = _plain(item, label)
        return plain
    raise NotPlainValueError(label, f"of type {type(value).__name__}")


def canonical_arguments(
    args: tuple[object, ...] | list[object], kwargs: Mapping[str, object]
) -> bytes:
    """The canonical JSON of ``[args, kwargs]`` that a snapshot's digest covers.

    Raises:
        NotPlainValueError: An argument (named ``argument 0`` or ``argument
            'name'``) is not plain JSON data.
    """
    try:
        plain_args = [
            _plain(value, f"argument {index}") for index, value in enumerate(args)
        ]
        plain_kwargs = {
            str(name): _plain(value, f"argument {name!r}")
            for name, value in kwargs.items()
        }
        text = _CANONICAL.encode([plain_args, plain_kwargs])
    except RecursionError:
        raise NotPlainValueError("an argument", "nested too deeply") from None
    return text.encode("ascii")


def arguments_digest(
    args: tuple[object, ...] | list[object], kwargs: Mapping[str, object]
) -> str:
    """SHA-256 (hex) of the canonical arguments.

    Raises:
        NotPlainValueError: An argument is not plain JSON data.
    """
    return hashlib.sha256(canonical_arguments(args, kwargs)).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageBinding:
    """The one message a snapshot may authorize."""

    audience: str
    """The application (``SPAKKY_DISPATCH_AUTH__AUDIENCE``) whose workers may accept it."""

    task_name: str
    """Wire name of the task."""

    task_id: str
    """Id of the message; a redelivery keeps it."""

    arguments: str
    """SHA-256 (hex) of the canonical arguments."""

    not_before: float | None = None
    """When the call may run (seconds since the epoch) if it was delayed with
    a countdown or an eta; the maximum age counts from it."""

    def claim(self) -> str:
        """The claim value: canonical JSON of the binding."""
        return _CANONICAL.encode(
            {
                "args": self.arguments,
                "aud": self.audience,
                "id": self.task_id,
                "nbf": self.not_before,
                "task": self.task_name,
                "v": BINDING_VERSION,
            }
        )

    def matches(self, claim: str) -> bool:
        """Whether ``claim`` is exactly this binding (constant-time comparison)."""
        return hmac.compare_digest(
            self.claim().encode("ascii"), claim.encode("utf-8", "replace")
        )

    @classmethod
    def parse(cls, claim: object) -> "MessageBinding | None":
        """The binding a claim value holds; None when it is not one we write."""
        if not isinstance(claim, str):
            return None
        try:
            data = json.loads(claim)
        except ValueError:
            return None
        if not isinstance(data, dict) or set(data) != _FIELDS:
            return None
        if data["v"] != BINDING_VERSION:
            return None
        texts = (data["aud"], data["task"], data["id"], data["args"])
        if not all(isinstance(text, str) for text in texts):
            return None
        not_before = data["nbf"]
        if not_before is not None and (
            isinstance(not_before, bool)
            or not isinstance(not_before, (int, float))
            or not math.isfinite(not_before)
        ):
            return None
        return cls(
            audience=data["aud"],
            task_name=data["task"],
            task_id=data["id"],
            arguments=data["args"],
            not_before=not_before,
        )
