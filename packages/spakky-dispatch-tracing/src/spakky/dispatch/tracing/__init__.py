"""spakky-dispatch-tracing: carries spakky-tracing TraceContext across the broker."""
