"""Loads the test kit's fixtures (see pyproject's addopts for why not by entry point)."""

pytest_plugins = ["spakky.plugins.celery.pytest_plugin"]
