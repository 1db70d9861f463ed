"""Broker and result backend URLs: masking secrets, checking schemes."""

from collections.abc import Mapping
from urllib.parse import urlsplit

from celery.app.backends import BACKEND_ALIASES
from kombu.transport import TRANSPORT_ALIASES
from kombu.utils.url import maybe_sanitize_url

_MASK = "**"


def masked_url(url: str | None) -> str:
    """Return ``url`` with any password replaced by ``**``.

    A failover list (``url1;url2``) has every password masked.
    """
    if not url:
        return "<not set>"
    return ";".join(_masked(part) for part in url.split(";"))


def _masked(url: str) -> str:
    try:
        return str(maybe_sanitize_url(url))
    except ValueError:  # unparsable: show none of it, it may hold a password
        return "<unparsable URL>"


def scrub(text: str, *urls: str | None) -> str:
    """Return ``text`` with each URL's password, and the URL itself, masked.

    Error messages of drivers are passed through this before we show them, so
    a driver that quotes its connection string cannot leak a password.
    """
    for url in urls:
        for part in (url or "").split(";"):
            if not part:
                continue
            text = text.replace(part, masked_url(part))
            password = _password(part)
            if password:
                text = text.replace(password, _MASK)
    return text


def _password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def scheme_of(url: str) -> str:
    """The transport or backend alias of ``url``: ``sqla+sqlite://`` gives ``sqla``."""
    scheme = url.partition("://")[0] if "://" in url else url
    return scheme.partition("+")[0].strip()


def check_broker_url(url: str) -> str:
    """Validate every URL of a (failover) broker URL against kombu's transports.

    Raises:
        ValueError: A URL has no scheme or names an unknown transport; the
            message suggests the nearest known one.
    """
    for part in url.split(";"):
        if "://" not in part:  # not echoed: it may hold a password
            raise ValueError(
                "the value is not a URL (no scheme://); write it as "
                "transport://host, e.g. redis://localhost:6379/0"
            )
        _check_alias(part, TRANSPORT_ALIASES, "transport")
    return url


def check_backend_url(url: str | None) -> str | None:
    """Validate a result backend URL (or alias) against Celery's backends.

    Raises:
        ValueError: It names an unknown backend; the message suggests the
            nearest known one.
    """
    if url is not None:
        _check_alias(url, BACKEND_ALIASES, "result backend")
    return url


def _check_alias(url: str, aliases: Mapping[str, object], kind: str) -> None:
    scheme = scheme_of(url)
    known = sorted(aliases)
    if scheme in known or "." in scheme or ":" in scheme:
        return  # an alias, or a dotted path to a custom class
    from kombu.utils.text import fmatch_best  # loads difflib: only for a typo

    nearest = fmatch_best(scheme, known)
    hint = f"did you mean {nearest!r}? " if nearest else ""
    raise ValueError(
        f"unknown {kind} {scheme!r} in {masked_url(url)!r}; {hint}"
        f"known: {', '.join(known)}"
    )
