"""The cost section: ``python -m benchmarks --only cost``."""

from benchmarks.harness.rows import Row


def cost_rows(smoke: bool, repeat: int) -> list[Row]:
    """The argument check, the auth adapter and tracing, each with against
    without, in the core; the Celery adapter's publish fast paths on each
    reachable broker; the proxy bypass and the W3C fast path, each against the
    public path it stands in for."""
    from benchmarks.cost.arguments import argument_rows
    from benchmarks.cost.auth import auth_rows
    from benchmarks.cost.fast_publish import fast_publish_rows
    from benchmarks.cost.proxy_bypass import proxy_bypass_rows
    from benchmarks.cost.tracing import tracing_rows
    from benchmarks.cost.w3c_fast_path import w3c_fast_path_rows

    return [
        *argument_rows(50 if smoke else 20_000, repeat),
        *auth_rows(50 if smoke else 5_000, repeat),
        *tracing_rows(50 if smoke else 20_000, repeat),
        *fast_publish_rows(20 if smoke else 500, repeat),
        *w3c_fast_path_rows(50 if smoke else 50_000, repeat),
        *proxy_bypass_rows(50 if smoke else 20_000, repeat),
    ]
