"""Reporting configuration errors without echoing secret values.

A settings class (ours, or a dependency's such as spakky-cryptography's) that
rejects an environment variable raises pydantic's ``ValidationError``, whose
text quotes the rejected value (``input_value='...'``): a malformed key or a
URL with a password would land in a terminal or a log. ``settings_problems``
reads such an error without its inputs, and ``redact`` masks the values of
secret-looking environment variables in any other text we print. pydantic is
not imported: errors are recognised by their shape.
"""

import os
import re
import sys
from collections.abc import Iterator, Mapping
from urllib.parse import urlsplit

from spakky.dispatch.core.diagnosis import error_chain

_SECRET_NAME = re.compile(r"KEY|SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL", re.IGNORECASE)
"""Variable names whose whole value is a secret."""

_MASK = "**"
_MIN_SECRET = 4
"""Shorter values are not masked: they would mask unrelated text."""


def settings_problems(error: BaseException) -> list[str] | None:
    """The problems of the first settings error in ``error``'s chain, value-free.

    Each problem reads ``VARIABLE: message`` (``Class.field: message`` when
    the settings class is unknown). None when no settings error is involved.
    """
    for cause in error_chain(error):
        problems = _problems(cause)
        if problems is not None:
            return problems
    return None


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


def _problems(error: BaseException) -> list[str] | None:
    """``error``'s problems when it has pydantic's ``ValidationError`` shape."""
    errors = getattr(error, "errors", None)
    title = getattr(error, "title", None)
    if type(error).__name__ != "ValidationError" or not callable(errors):
        return None
    try:
        items = errors(include_url=False, include_context=False, include_input=False)
    except TypeError:  # not pydantic's: do not guess what it would print
        return None
    prefix = _env_prefix(str(title))
    problems: list[str] = []
    for item in items:
        location = [str(part) for part in item.get("loc", ())]
        message = str(item.get("msg", "invalid value"))
        if not location:
            problems.append(f"{title}: {message}")
        elif prefix is not None:
            problems.append(f"{prefix}{'__'.join(location).upper()}: {message}")
        else:
            problems.append(f"{title}.{'.'.join(location)}: {message}")
    return problems


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
