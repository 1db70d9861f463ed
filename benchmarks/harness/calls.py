"""The measured call and its caller: arguments, trace, identity, variants.

Both environments run it (ours, and spakky-celery 8.5.0's through its
driver): it imports only Spakky packages both have, and those of tracing and
auth only when a caller needs them (the worker apps import it, and an app
that loads neither plugin would not import them).
"""

from collections.abc import Iterator
from contextlib import contextmanager

from spakky.core.application.application import SpakkyApplication

ARGS: tuple[object, ...] = (1, "abc")
KWARGS: dict[str, object] = {"k": 2}
NO_PROPAGATORS = "no propagators"
TRACING = "tracing"
TRACING_AUTH = "tracing + auth"
VARIANTS = (NO_PROPAGATORS, TRACING, TRACING_AUTH)
"""The caller's variants every transport measures; a transport may add its own
(named with "tracing" when its caller is traced)."""


def traced(variant: str) -> bool:
    """Whether the caller of ``variant`` runs inside a trace (tracing loaded)."""
    return "tracing" in variant


def signed(variant: str) -> bool:
    """Whether the caller of ``variant`` sends a signed auth snapshot."""
    return variant == TRACING_AUTH


def auth_env(variant: str) -> dict[str, str | None]:
    """The auth snapshot settings of ``variant`` (a fresh HS256 key when signed)."""
    from spakky.plugins.cryptography import Key

    auth = signed(variant)
    return {
        "SPAKKY_AUTH_SNAPSHOT_PROPAGATION_ENABLED": "true" if auth else None,
        "SPAKKY_CRYPTOGRAPHY_SNAPSHOT_KEY": Key(size=32).b64_urlsafe if auth else None,
    }


@contextmanager
def caller_context(app: SpakkyApplication, variant: str) -> Iterator[None]:
    """The caller's trace and identity that ``variant`` propagates."""
    from spakky.auth import AUTH_CONTEXT_CONTEXT_KEY, AuthContext, AuthSubject
    from spakky.tracing import TraceContext

    if traced(variant):
        TraceContext.set(TraceContext.new_root())
    if signed(variant):
        caller = AuthContext(
            subject=AuthSubject(id="user-42"),
            issuer="https://issuer.example",
            roles=("reader",),
            scopes=("reports:read",),
        )
        app.application_context.set_context_value(AUTH_CONTEXT_CONTEXT_KEY, caller)
    try:
        yield
    finally:
        TraceContext.clear()
        app.application_context.clear_context()
