"""The registry of this application's tasks."""

from collections.abc import Iterator

from spakky.core.pod.annotations.pod import Pod

from spakky.dispatch.core.binding import TaskBinding
from spakky.dispatch.core.error import DuplicateTaskNameError, TaskNotRegisteredError


@Pod()
class TaskRegistry:
    """Task bindings by wire name and by ``(handler class, method name)``."""

    _by_name: dict[str, TaskBinding]
    _by_method: dict[tuple[type[object], str], TaskBinding]

    def __init__(self) -> None:
        self._by_name = {}
        self._by_method = {}

    def add(self, binding: TaskBinding) -> None:
        """Register ``binding``.

        Raises:
            DuplicateTaskNameError: Another task already has this name.
        """
        existing = self._by_name.get(binding.name)
        if existing is not None and existing != binding:
            raise DuplicateTaskNameError(binding.name)
        self._by_name[binding.name] = binding
        self._by_method[(binding.handler_type, binding.method_name)] = binding

    def get(self, name: str) -> TaskBinding:
        """Return the task called ``name``.

        Raises:
            TaskNotRegisteredError: No such task in this application.
        """
        binding = self._by_name.get(name)
        if binding is None:
            raise TaskNotRegisteredError(name)
        return binding

    def find(self, name: str) -> TaskBinding | None:
        """Return the task called ``name``, or None."""
        return self._by_name.get(name)

    def for_method(
        self, handler_type: type[object], method_name: str
    ) -> TaskBinding | None:
        """Return the task registered for ``handler_type.method_name``, or None."""
        return self._by_method.get((handler_type, method_name))

    def __iter__(self) -> Iterator[TaskBinding]:
        return iter(tuple(self._by_name.values()))

    def __len__(self) -> int:
        return len(self._by_name)
