"""The command line every transport plugin shares.

A plugin declares its program name, the distributions ``--version`` reports,
how a task's schedule reads in the ``tasks`` listing, and its commands: how
each runs on a loaded application and how it shows the underlying tool's own
help (``tool_help``). Everything else lives here once: ``--help``/``-h`` on
stdout, ``--version``, ``-A``/``--app`` or the application as the
first argument after the command, the nearest command suggested for a typo,
application loading with distinct "not found" and "failed to import" reports
(the second with its traceback), and configuration errors reported without
the values they rejected.
"""

import difflib
import os
import platform
import sys
import textwrap
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import TextIO

from spakky.core.application.application import SpakkyApplication

from spakky.dispatch.core.binding import TaskBinding, listing_line
from spakky.dispatch.core.error import AbstractSpakkyDispatchError
from spakky.dispatch.core.loading import ApplicationImportError, load_application
from spakky.dispatch.core.registry import TaskRegistry
from spakky.dispatch.core.settings import redact, settings_problems

type ScheduleText = Callable[[TaskBinding], str | None]
"""How one task's schedule reads in the listing (None: not scheduled)."""

APP_HELP = (
    "APP names a SpakkyApplication, or a function returning one, as "
    "package.module:attribute (e.g. myservice.main:app); give it after the "
    "command or with -A/--app. The current folder is importable."
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Invocation:
    """One command run on a loaded application."""

    spec: str
    """The application as given: ``package.module:attribute``."""

    application: SpakkyApplication
    """The loaded, started application."""

    options: tuple[str, ...]
    """Everything after the application, for the underlying tool."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """A command of a plugin's command line that runs a transport's tool."""

    name: str
    """What the user types: ``worker``."""

    summary: str
    """One line for ``--help``."""

    tool: str
    """The underlying command whose options pass through, e.g. ``<tool> worker``."""

    run: Callable[[Invocation], int]
    """Runs the command; returns the exit code."""

    show_help: Callable[[], int]
    """Prints the underlying command's own help; needs no application."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandLine:
    """A plugin's command line: its declaration and the shared behaviour."""

    prog: str
    """Program name, e.g. ``spakky-<transport>``."""

    summary: str
    """What the program does, one sentence."""

    distributions: tuple[str, ...]
    """Distributions ``--version`` reports, the program's own first."""

    commands: tuple[Command, ...]
    """The transport's commands; ``tasks`` and ``help`` are added here."""

    schedules: Callable[[SpakkyApplication], ScheduleText]
    """How the ``tasks`` listing describes schedules of an application."""

    def main(self, argv: Sequence[str] | None = None) -> int:
        """Run the command line on ``argv`` (default: ``sys.argv[1:]``)."""
        args = list(sys.argv[1:] if argv is None else argv)
        spec, args, code = self._global_options(args)
        if code is not None:
            return code
        if not args:
            return self._usage_error("name a command")
        name, rest = args[0], args[1:]
        if name == "help":
            return self._help_for(rest[0] if rest else None)
        if name != "tasks" and self._command(name) is None:
            return self._unknown(name)
        if "-h" in rest or "--help" in rest:
            return self._help_for(name)
        if spec is None:
            spec, rest = _take_spec(rest)
        if not spec:
            return self._usage_error(
                f"{name}: name the application, e.g. `{self.prog} {name} "
                "myservice.main:app` or `-A myservice.main:app`"
            )
        return self._run(name, spec, tuple(rest))

    def version_text(self) -> str:
        """What ``--version`` prints: each distribution's version, and Python's."""
        lines = [f"{name} {_version(name)}" for name in self.distributions]
        lines.append(f"Python {platform.python_version()}")
        return "\n".join([lines[0], *(f"  {line}" for line in lines[1:])])

    def help_text(self) -> str:
        """What ``--help`` prints."""
        rows = [
            (c.name, f"{c.summary} (options go to `{c.tool}`)") for c in self.commands
        ]
        rows.append(("tasks", "list the application's tasks and schedules"))
        rows.append(("help", "show this help, or a command's (`help worker`)"))
        width = max(len(name) for name, _ in rows)
        commands = "\n".join(f"  {name.ljust(width)}  {text}" for name, text in rows)
        return (
            f"usage: {self.prog} [-A APP] COMMAND [APP] [options...]\n"
            f"       {self.prog} --version\n\n"
            f"{_fill(self.summary)}\n\ncommands:\n{commands}\n\n{_fill(APP_HELP)}\n\n"
            "options:\n"
            "  -h, --help         show this help and exit\n"
            "  --version          show the versions and exit\n"
            "  -A, --app APP      the application (instead of APP after the command)\n"
            f"\n`{self.prog} COMMAND --help` shows a command's options.\n"
        )

    def list_tasks(
        self, application: SpakkyApplication, out: TextIO | None = None
    ) -> None:
        """Print every registered task, its kinds and its schedule."""
        schedule = self.schedules(application)
        registry = application.container.get(TaskRegistry)
        bindings = sorted(registry, key=lambda binding: binding.name)
        out = sys.stdout if out is None else out
        out.write(f"{len(bindings)} task(s)\n")
        for binding in bindings:
            out.write(listing_line(binding, schedule(binding)) + "\n")

    def _global_options(
        self, args: list[str]
    ) -> tuple[str | None, list[str], int | None]:
        """Options before the command; an exit code when one ends the run."""
        spec: str | None = None
        while args and args[0].startswith("-"):
            option = args.pop(0)
            if option in ("-h", "--help"):
                sys.stdout.write(self.help_text())
                return spec, args, 0
            if option == "--version":
                sys.stdout.write(self.version_text() + "\n")
                return spec, args, 0
            taken, args = _take_spec([option, *args])
            if taken is None:
                return spec, args, self._usage_error(f"unknown option {option!r}")
            if not taken:
                return spec, args, self._usage_error(f"{option} needs an application")
            spec = taken
        return spec, args, None

    def _command(self, name: str) -> Command | None:
        return next((c for c in self.commands if c.name == name), None)

    def _help_for(self, name: str | None) -> int:
        if name is None:
            sys.stdout.write(self.help_text())
            return 0
        if name == "tasks":
            sys.stdout.write(
                f"usage: {self.prog} tasks [-A] APP\n\nList the application's "
                f"tasks: name, kinds and schedule.\n\n{_fill(APP_HELP)}\n"
            )
            return 0
        command = self._command(name)
        if command is None:
            return self._unknown(name)
        summary = command.summary[:1].upper() + command.summary[1:]
        sys.stdout.write(
            f"usage: {self.prog} {name} [-A] APP [options...]\n\n{summary}.\n\n"
            f"{_fill(APP_HELP)}\n\nThe options are those of `{command.tool}`, "
            "passed on unchanged:\n\n"
        )
        sys.stdout.flush()
        return command.show_help()

    def _unknown(self, name: str) -> int:
        names = [c.name for c in self.commands] + ["tasks", "help"]
        if ":" in name:
            hint = f"; name the command first, e.g. `{self.prog} worker {name}`"
        else:
            nearest = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
            hint = f"; did you mean {nearest[0]!r}?" if nearest else ""
        return self._usage_error(
            f"unknown command {name!r}{hint} (commands: {', '.join(names)})"
        )

    def _usage_error(self, problem: str) -> int:
        sys.stderr.write(
            f"{self.prog}: {problem}\nusage: {self.prog} [-A APP] COMMAND [APP] "
            f"[options...]; `{self.prog} --help` lists the commands\n"
        )
        return 2

    def _run(self, name: str, spec: str, options: tuple[str, ...]) -> int:
        if "" not in sys.path and os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())  # the project folder, as `python -m`
        try:
            application = load_application(spec)
            if name == "tasks":
                self.list_tasks(application)
                return 0
            command = self._command(name)
            assert command is not None  # checked by ``main``
            return command.run(
                Invocation(spec=spec, application=application, options=options)
            )
        except Exception as error:
            return self._report(error)

    def _report(self, error: Exception) -> int:
        """Say what went wrong without echoing a rejected value; the exit code."""
        problems = settings_problems(error)
        if problems is not None:
            listed = "\n".join(f"  {problem}" for problem in problems)
            sys.stderr.write(
                f"{self.prog}: the application's settings are invalid (rejected "
                f"values are not shown):\n{listed}\n"
            )
            return 2
        sys.stderr.write(f"{self.prog}: {redact(str(error))}\n")
        if isinstance(error, ApplicationImportError) and error.__cause__ is not None:
            sys.stderr.write(
                redact("".join(traceback.format_exception(error.__cause__)))
            )
            return 2
        if isinstance(error, AbstractSpakkyDispatchError):
            return 2
        sys.stderr.write(redact("".join(traceback.format_exception(error))))
        return 1


def tool_help(program: str, show: Callable[[], object]) -> Callable[[], int]:
    """A ``Command.show_help`` that runs ``show`` as the tool ``program``.

    ``show`` prints the underlying tool's own help (most tools then exit):
    ``sys.argv[0]`` reads ``program`` meanwhile, so the tool's usage line
    names it; the exit code is kept (0 when ``show`` returns anything else).
    """

    def run() -> int:
        saved, sys.argv[0] = sys.argv[0], program
        try:
            code = show()
        except SystemExit as exit_:
            return exit_.code if isinstance(exit_.code, int) else 0
        finally:
            sys.argv[0] = saved
        return code if isinstance(code, int) else 0

    return run


def _take_spec(args: list[str]) -> tuple[str | None, list[str]]:
    """The application at the head of ``args`` (``-A x``, ``--app=x`` or ``x``).

    Returns ``(None, args)`` when the head is another option, ``("", ...)``
    when ``-A`` lacks its value.
    """
    if not args:
        return None, args
    head, rest = args[0], args[1:]
    if head in ("-A", "--app"):
        return (rest[0], rest[1:]) if rest else ("", rest)
    if head.startswith("--app="):
        return head.removeprefix("--app="), rest
    if head.startswith("-A"):
        return head.removeprefix("-A").removeprefix("="), rest
    if head.startswith("-"):
        return None, args
    return head, rest


def _version(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "(not installed)"


def _fill(text: str) -> str:
    return textwrap.fill(text, width=79)
