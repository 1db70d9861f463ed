"""A user's own Celery pod."""

from celery import Celery
from spakky.core.pod.annotations.pod import Pod

USER_APP = Celery("user-app", broker="memory://", set_as_current=False)


@Pod()
def user_celery() -> Celery:
    """The application's own Celery app."""
    return USER_APP
