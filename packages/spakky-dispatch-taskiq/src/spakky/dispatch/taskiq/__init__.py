"""spakky-dispatch-taskiq: the taskiq adapter of spakky-dispatch."""
