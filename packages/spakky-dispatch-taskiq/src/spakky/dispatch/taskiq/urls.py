"""Broker and result backend URLs: which transport a scheme selects, masking."""

from difflib import get_close_matches
from urllib.parse import urlsplit, urlunsplit

REDIS_SCHEMES = frozenset({"redis", "rediss"})
"""Schemes served by taskiq-redis (a Redis list per queue)."""

AMQP_SCHEMES = frozenset({"amqp", "amqps"})
"""Schemes served by taskiq-aio-pika (a RabbitMQ queue bound to an exchange)."""

MEMORY_SCHEMES = frozenset({"memory"})
"""taskiq's in-process broker: tasks run in the dispatching process."""

BROKER_SCHEMES = REDIS_SCHEMES | AMQP_SCHEMES | MEMORY_SCHEMES
"""Every scheme ``SPAKKY_TASKIQ__BROKER_URL`` may use."""

BACKEND_SCHEMES = REDIS_SCHEMES
"""Every scheme ``SPAKKY_TASKIQ__RESULT_BACKEND`` may use."""


def scheme_of(url: str) -> str:
    """The scheme of ``url`` in lower case (``redis`` for ``redis://host``)."""
    return url.partition("://")[0].strip().lower() if "://" in url else ""


def masked_url(url: str | None) -> str:
    """Return ``url`` with its password, if any, replaced by ``**``."""
    if not url:
        return "<not set>"
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unparsable URL>"
    if not password:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port is not None else ""
    netloc = f"{user}:**@{host}{port}"
    return urlunsplit(parts._replace(netloc=netloc))


def check_url(url: str, allowed: frozenset[str], kind: str) -> str:
    """Refuse a URL whose scheme is not in ``allowed``, suggesting the nearest.

    Raises:
        ValueError: The URL has no scheme, or an unknown one.
    """
    scheme = scheme_of(url)
    if not scheme:
        raise ValueError(  # not echoed: without a scheme no password is found
            "the value is not a URL (no scheme://); write it as scheme://host, "
            "e.g. redis://localhost:6379/0"
        )
    if scheme in allowed:
        return url
    known = sorted(allowed)
    nearest = get_close_matches(scheme, known, n=1)
    hint = f"did you mean {nearest[0]!r}? " if nearest else ""
    raise ValueError(
        f"unknown {kind} scheme {scheme!r} in {masked_url(url)!r}; {hint}"
        f"use one of {', '.join(known)}"
    )
