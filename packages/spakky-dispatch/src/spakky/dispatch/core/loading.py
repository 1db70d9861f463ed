"""Loading a Spakky application named on a command line (for transport CLIs)."""

import importlib
from inspect import signature

from spakky.core.application.application import SpakkyApplication

from spakky.dispatch.core.error import AbstractSpakkyDispatchError
from spakky.dispatch.core.settings import redact, settings_problems


class ApplicationNotFoundError(AbstractSpakkyDispatchError):
    """The ``package.module:attribute`` given on the command line is unusable."""

    message = "Cannot load the Spakky application"


class ApplicationImportError(ApplicationNotFoundError):
    """The application's module exists but raised while it was imported.

    The error it raised is the ``__cause__``; command lines show its traceback.
    """

    message = "The Spakky application's module failed to import"


def load_application(spec: str) -> SpakkyApplication:
    """Import ``package.module:attribute`` and return a started application.

    The attribute may be a ``SpakkyApplication`` or a callable returning one.

    Raises:
        ApplicationNotFoundError: The spec is malformed, the module or attribute
            is missing, or it does not give a ``SpakkyApplication``.
        ApplicationImportError: The module exists but its import raised (the
            error is the ``__cause__``).
    """
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ApplicationNotFoundError(
            f"{spec!r}: write it as package.module:attribute, e.g. myservice.main:app"
        )
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if not _names_module(error, module_name):
            raise ApplicationImportError(_failed(spec, module_name, error)) from error
        raise ApplicationNotFoundError(
            f"{spec!r}: module {module_name!r} was not found; run from the "
            "project folder or put it on PYTHONPATH"
        ) from error
    except Exception as error:
        raise ApplicationImportError(_failed(spec, module_name, error)) from error
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


def _names_module(error: ModuleNotFoundError, module_name: str) -> bool:
    """Whether the missing module is ``module_name`` or one of its packages.

    Otherwise a module the application imports is missing: that is an import
    failure of the application, not a wrong name on the command line.
    """
    missing = error.name or ""
    return bool(missing) and (
        module_name == missing or module_name.startswith(f"{missing}.")
    )


def _failed(spec: str, module_name: str, error: BaseException) -> str:
    """The detail of an import failure; the settings' problems, never values."""
    problems = settings_problems(error)
    if problems is not None:
        reason = "invalid settings: " + "; ".join(problems)
    else:
        reason = redact(f"{type(error).__name__}: {error}")
    return f"{spec!r}: importing {module_name!r} raised {reason}"
