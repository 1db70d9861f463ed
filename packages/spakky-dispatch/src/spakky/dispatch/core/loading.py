"""Loading a Spakky application named on a command line (for transport CLIs)."""

import importlib
from inspect import signature

from spakky.core.application.application import SpakkyApplication

from spakky.dispatch.core.error import AbstractSpakkyDispatchError


class ApplicationNotFoundError(AbstractSpakkyDispatchError):
    """The ``package.module:attribute`` given on the command line is unusable."""

    message = "Cannot load the Spakky application"


def load_application(spec: str) -> SpakkyApplication:
    """Import ``package.module:attribute`` and return a started application.

    The attribute may be a ``SpakkyApplication`` or a callable returning one.

    Raises:
        ApplicationNotFoundError: The spec is malformed, the module or attribute
            is missing, or it does not give a ``SpakkyApplication``.
    """
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ApplicationNotFoundError(
            f"{spec!r}: write it as package.module:attribute, e.g. myservice.main:app"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ApplicationNotFoundError(
            f"{spec!r}: module {module_name!r} cannot be imported ({error}); run "
            "from the project folder or put it on PYTHONPATH"
        ) from error
    target: object = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ApplicationNotFoundError(
                f"{spec!r}: {module_name} has no attribute {attribute!r}"
            )
        target = getattr(target, part)
    if not isinstance(target, SpakkyApplication) and callable(target):
        try:
            signature(target).bind()
        except TypeError as error:
            raise ApplicationNotFoundError(
                f"{spec!r} is a callable that needs arguments ({error}); name a "
                "SpakkyApplication or a factory that takes none"
            ) from error
        target = target()
    if not isinstance(target, SpakkyApplication):
        raise ApplicationNotFoundError(
            f"{spec!r} is a {type(target).__name__}, not a SpakkyApplication or a "
            "function returning one"
        )
    if not target.application_context.is_started:
        target.start()
    return target
