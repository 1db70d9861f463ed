"""Benchmarks of spakky-celery against raw Celery: ``python -m benchmarks``."""
