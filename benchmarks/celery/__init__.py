"""The Celery rows: spakky-celery against raw Celery and spakky-celery 8.5.0."""
