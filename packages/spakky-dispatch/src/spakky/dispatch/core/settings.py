"""Settings errors that name variables, never their values.

A settings class (ours, or a dependency's such as spakky-cryptography's) that
rejects an environment variable raises pydantic's ``ValidationError``, whose
text quotes the rejected value (``input_value='...'``): a malformed key or a
URL with a password would land in a terminal or a log. ``settings_problems``
reads such an error without its inputs; every settings class of ours turns it
into ``InvalidSettingsError`` with ``reporting_settings_errors``, and command
lines use it for any other. ``redact`` masks the values of secret-looking
environment variables in any other text we print. pydantic is not imported:
errors are recognised by their shape.
"""

import os
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from spakky.dispatch.core.diagnosis import error_chain
from spakky.dispatch.core.error import InvalidSettingsError

_VALUE_ERROR = "Value error, "
_SECRET_NAME = re.compile(r"KEY|SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL", re.IGNORECASE)
"""Variable names whose whole value is a secret."""

_MASK = "**"
_MIN_SECRET = 4
"""Shorter values are not masked: they would mask unrelated text."""


@contextmanager
def reporting_settings_errors(env_prefix: str) -> Iterator[None]:
    """Turn a settings class's validation error into ``InvalidSettingsError``.

    Every settings class of the project reads its variables inside this
    block (``with reporting_settings_errors(ENV_PREFIX): super().__init__()``),
    so each reports its problems the same way: by variable, without values.

    Raises:
        InvalidSettingsError: The block raised a pydantic validation error;
            the detail is ``settings_problems`` joined by ``; ``.
    """
    try:
        yield
    except Exception as error:
        problems = settings_problems(error, env_prefix)
        if problems is None:
            raise
        raise InvalidSettingsError("; ".join(problems)) from None


def settings_problems(
    error: BaseException, env_prefix: str | None = None
) -> list[str] | None:
    """The problems of the first settings error in ``error``'s chain, value-free.

    Each reads ``VARIABLE: problem`` (``VARIABLE is required but not set`` for
    a missing one; a check across several variables gives its message alone).
    The variable is ``env_prefix`` and the field in upper case; without a
    prefix, that of the loaded pydantic-settings class the error names, else
    ``Class.field``. None when no pydantic validation error is involved.
    """
    for cause in error_chain(error):
        items = _items(cause)
        if items is not None:
            title = str(getattr(cause, "title", "?"))
            prefix = env_prefix if env_prefix is not None else _env_prefix(title)
            return [_problem(item, title, prefix) for item in items]
    return None


def check_timezone(value: str) -> str:
    """Validate an IANA timezone name (a settings validator).

    Raises:
        ValueError: ``value`` is not a timezone name this system knows.
    """
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(
            f"unknown timezone {value!r}; use an IANA name such as UTC or Asia/Seoul"
        ) from error
    return value


def redact(text: str, environ: Mapping[str, str] | None = None) -> str:
    """``text`` with the secrets of the environment replaced by ``**``.

    Values of variables named like a key, secret, password, token or
    credential are masked, and so is the password of every URL-valued one.
    """
    environ = os.environ if environ is None else environ
    secrets: set[str] = set()
    for name, value in environ.items():
        if _SECRET_NAME.search(name) and len(value) >= _MIN_SECRET:
            secrets.add(value)
        if "://" in value:
            secrets.update(_url_passwords(value))
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, _MASK)
    return text


def _url_passwords(value: str) -> Iterator[str]:
    for part in value.split(";"):
        try:
            password = urlsplit(part.strip()).password
        except ValueError:
            continue
        if password and len(password) >= _MIN_SECRET:
            yield password


def _items(error: BaseException) -> list[Mapping[str, Any]] | None:
    """``error``'s items, without inputs, when it has pydantic's ``ValidationError`` shape."""
    errors = getattr(error, "errors", None)
    if type(error).__name__ != "ValidationError" or not callable(errors):
        return None
    try:
        return list(
            errors(include_url=False, include_context=False, include_input=False)
        )
    except TypeError:  # not pydantic's: do not guess what it would print
        return None


def _problem(item: Mapping[str, Any], title: str, prefix: str | None) -> str:
    message = str(item.get("msg", "invalid")).removeprefix(_VALUE_ERROR)
    location = tuple(item.get("loc") or ())
    if not location:
        return message if prefix is not None else f"{title}: {message}"
    field, *inner = location
    if prefix is None:
        name = ".".join(str(part) for part in (title, *location))
    else:
        name = f"{prefix}{str(field).upper()}" + "".join(f"[{p!r}]" for p in inner)
    if item.get("type") == "missing":
        return f"{name} is required but not set"
    return f"{name}: {message}"


def _env_prefix(title: str) -> str | None:
    """The ``env_prefix`` of the loaded pydantic-settings class named ``title``."""
    module = sys.modules.get("pydantic_settings")
    base = getattr(module, "BaseSettings", None)
    if not isinstance(base, type):
        return None
    pending: list[type] = list(base.__subclasses__())
    while pending:
        kind = pending.pop()
        if kind.__name__ == title:
            config = getattr(kind, "model_config", {})
            prefix = config.get("env_prefix", "") if isinstance(config, dict) else ""
            return str(prefix).upper()
        pending.extend(kind.__subclasses__())
    return None
