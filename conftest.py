"""Loads the test kits' fixtures (see pyproject's addopts for why not by entry point)."""

pytest_plugins = [
    "spakky.dispatch.core.pytest_plugin",
    "spakky.plugins.celery.pytest_plugin",
]

# Runs only against the installed wheels, outside the workspace
# (tools/install_check.py), where the kit loads through its entry point.
collect_ignore = ["tests/installed"]
