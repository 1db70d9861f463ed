"""Telling a misconfigured broker URL from a broker that is down or full.

Wrong credentials, an unknown virtual host and a Redis database index the
server does not have are refused the same way by every client library (py-amqp,
aiormq, redis-py): with an error class or a reply text that names the
problem. Transports ask ``configuration_problem`` before classifying a failed
publish or connect as "unreachable" or "refused", and raise
``BrokerConfigurationError`` naming the setting to fix.
"""

from collections.abc import Iterator

_PROBLEMS: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        (
            "wrongpass",
            "noauth",
            "invalid username-password",
            "invalid password",
            "authentication required",
            "login was refused",
            "called without any password configured",
            "must be called with the client already authenticated",
        ),
        "the broker refused the user name or password in the URL",
    ),
    (
        ("access_refused",),
        "the broker refused this user access; check the user's permissions "
        "on the virtual host",
    ),
    (
        ("not_allowed - vhost", "not_allowed - access to vhost"),
        "the broker has no such virtual host, or the user may not use it",
    ),
    (
        # aiormq reports a connection closed during Connection.Open (an
        # unknown or forbidden virtual host) only as this unexpected frame.
        ("expected one of ['connection.openok'], got <connection.close",),
        "the broker closed the connection while opening the virtual host: it "
        "has no such virtual host, or the user may not use it",
    ),
    (
        ("db index is out of range", "invalid db index"),
        "the Redis server has no database with the index in the URL (the "
        "number after the last /); use one below its `databases` setting",
    ),
)
"""Texts (lower case) in an error or its causes, and what they mean."""

_AUTH_CLASSES = ("AuthenticationError", "ProbableAuthenticationError")
"""Client error classes that mean the credentials were refused."""


def configuration_problem(error: BaseException) -> str | None:
    """What is wrong with the broker URL, when ``error`` shows a configuration fault.

    Looks at ``error`` and every error it was raised from. None when the
    failure is not a configuration fault (unreachable, full, a bad message).
    """
    for cause in error_chain(error):
        if type(cause).__name__ in _AUTH_CLASSES:
            return _PROBLEMS[0][1]
        text = str(cause).lower()
        for needles, meaning in _PROBLEMS:
            if any(needle in text for needle in needles):
                return meaning
    return None


def error_chain(error: BaseException) -> Iterator[BaseException]:
    """``error`` and the errors it was raised from, outermost first.

    As Python's tracebacks do, a context hidden with ``raise ... from None``
    is not followed.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
