"""Loading a Spakky application named on a command line (shared with spakky-celery)."""

from spakky.dispatch.core import ApplicationNotFoundError, load_application

__all__ = ["ApplicationNotFoundError", "load_application"]
