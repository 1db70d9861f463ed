"""Benchmarks of our plugins against the raw libraries: ``python -m benchmarks``.

``harness`` holds what every row shares (timing, rows and table, processes,
the old distribution's environment and driver protocol); ``celery`` and
``taskiq`` declare their rows; ``cost`` measures single adapters in the core.
"""
