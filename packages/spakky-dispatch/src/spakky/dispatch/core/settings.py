"""Settings errors: what is wrong with which variable, never the value given."""

from collections.abc import Iterable, Mapping
from typing import Any

_VALUE_ERROR = "Value error, "


def describe_settings_errors(
    errors: Iterable[Mapping[str, Any]], env_prefix: str = ""
) -> str:
    """One line naming every invalid setting and what is wrong with it.

    ``errors`` are the items of a pydantic ``ValidationError.errors()``; only
    their location, type and message are read, never the input (pydantic's
    own text quotes it as ``input_value=...``, which may be a password or a
    key). Settings classes and command lines use it so that no configuration
    error echoes a secret; a validator's own message must not quote the value
    either.

    Args:
        errors: The validation errors, e.g. ``error.errors(include_input=False)``.
        env_prefix: Prefix of the settings' environment variables
            (``SPAKKY_CELERY__``); the variable is the prefix and the field in
            upper case. Empty: the field name alone.

    Returns:
        ``VARIABLE: problem`` items joined by ``; `` (``VARIABLE is required but
        not set`` for a missing one; a check across several variables gives
        its message alone).
    """
    problems: list[str] = []
    for item in errors:
        message = str(item.get("msg", "invalid")).removeprefix(_VALUE_ERROR)
        location = tuple(item.get("loc") or ())
        if not location:
            problems.append(message)
            continue
        field, *inner = location
        name = f"{env_prefix}{str(field).upper()}" if env_prefix else str(field)
        name += "".join(f"[{part!r}]" for part in inner)
        if item.get("type") == "missing":
            problems.append(f"{name} is required but not set")
        else:
            problems.append(f"{name}: {message}")
    return "; ".join(problems)
