"""Loads the test kit's fixtures (see pyproject's addopts for why not by entry point)."""

pytest_plugins = ["spakky.plugins.celery.pytest_plugin"]

# Runs only against the installed wheels, outside the workspace
# (tools/install_check.py), where the kit loads through its entry point.
collect_ignore = ["tests/installed"]
