"""Several ``ITracePropagator`` run as one, in a defined order."""

import logging
from collections.abc import Iterable, Mapping
from typing import override

from spakky.core.pod.annotations.order import Order
from spakky.tracing import ITracePropagator, TraceContext

from spakky.dispatch.tracing.error import InvalidTracePropagatorError
from spakky.dispatch.tracing.validation import admissible_header, is_valid_trace_context

_logger = logging.getLogger(__name__)
_LAST = Order()

type _Entry = tuple[ITracePropagator, tuple[str, ...]]


def propagation_order(propagator: ITracePropagator) -> tuple[int, str, str]:
    """Sort key of a propagator: its ``@Order``, then its fully qualified name."""
    cls = type(propagator)
    return Order.get_or_default(cls, _LAST).order, cls.__module__, cls.__qualname__


def _fields_of(propagator: ITracePropagator) -> tuple[str, ...]:
    declared = propagator.fields()
    if isinstance(declared, str) or not all(
        isinstance(name, str) and name for name in declared
    ):
        raise InvalidTracePropagatorError(
            f"{type(propagator).__qualname__}.fields() returned {declared!r}"
        )
    fields = tuple(dict.fromkeys(declared))
    if not fields:
        raise InvalidTracePropagatorError(
            f"{type(propagator).__qualname__}.fields() returned no header name"
        )
    return fields


class CompositeTracePropagator(ITracePropagator):
    """Runs trace propagators in ascending ``@Order`` (ties: qualified name).

    Each propagator reads and writes only the headers its ``fields()`` names.
    Injecting lets every propagator write its format; when two claim the same
    header, the earlier one's value is kept. Extracting returns the first
    well-formed context an earlier propagator finds. Neither direction raises
    because of a propagator's failure or a malformed header: the failure is
    logged and that propagator is skipped.

    Not a pod on purpose: it is built from the container's propagators.
    """

    _entries: tuple[_Entry, ...]
    _fields: tuple[str, ...]

    def __init__(self, propagators: Iterable[ITracePropagator] = ()) -> None:
        self._entries = tuple(
            (propagator, _fields_of(propagator))
            for propagator in sorted(propagators, key=propagation_order)
        )
        self._fields = tuple(
            dict.fromkeys(name for _, fields in self._entries for name in fields)
        )

    @property
    def propagators(self) -> tuple[ITracePropagator, ...]:
        """The composed propagators, in the order they run."""
        return tuple(propagator for propagator, _ in self._entries)

    @override
    def fields(self) -> list[str]:
        """Return every header name some composed propagator uses."""
        return list(self._fields)

    @override
    def inject(self, carrier: dict[str, str]) -> None:
        """Write the current context in every composed propagator's format.

        Args:
            carrier: Outgoing headers; only the propagators' fields are written.
        """
        collected: dict[str, str] = {}
        for propagator, fields in self._entries:
            written: dict[str, str] = {}
            try:
                propagator.inject(written)
            except Exception:
                _logger.warning(
                    "%s.inject failed; the task is sent without its trace headers",
                    type(propagator).__qualname__,
                    exc_info=True,
                )
                continue
            for name in fields:
                value = written.get(name)
                if isinstance(value, str):
                    collected.setdefault(name, value)
        carrier.update(collected)

    @override
    def extract(self, carrier: Mapping[str, str]) -> TraceContext | None:
        """Return the first well-formed context a composed propagator extracts.

        Args:
            carrier: Received headers; each propagator sees only its own.

        Returns:
            The caller's context, or None when no header yields a valid one.
        """
        for propagator, fields in self._entries:
            own = {
                name: value
                for name in fields
                if isinstance(value := carrier.get(name), str)
                and admissible_header(name, value)
            }
            if not own:
                continue
            try:
                context = propagator.extract(own)
            except Exception:
                _logger.warning(
                    "%s.extract raised on headers %s; ignoring them",
                    type(propagator).__qualname__,
                    sorted(own),
                    exc_info=True,
                )
                continue
            if is_valid_trace_context(context):
                return context
        return None
