"""The ``persona`` command line.

Each part of the engine contributes its own commands from a ``commands`` module with a
``register(commands: Commands)`` function, listed in ``COMMAND_MODULES``. Those modules import
their heavy dependencies inside the command functions, so ``persona --help`` starts fast and a
missing optional library only affects the command that needs it.

Errors the engine raises on purpose (``EngineError``) print as one line naming the file, field or
device, and exit 1; ``--debug`` adds the traceback.

The terminal gets one line per event (``engine.logs``): repeated warnings are counted, not
repeated, and what C libraries print is filtered the same way; ``--debug`` shows everything.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence

from engine import logs
from engine.errors import EngineError

log = logging.getLogger("persona")

COMMAND_MODULES = (
    "engine.commands",
    "engine.bench",
    "engine.scenes_commands",
    "engine.tracking.commands",
    "engine.voice.commands",
    "engine.safety.commands",
    "engine.avatar.commands",
    "engine.neural.train_commands",
    "engine.doctor",
)


class Commands:
    """Where command modules add their sub-commands; groups (``persona avatar ...``) are shared."""

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self._top = parser.add_subparsers(dest="command", metavar="COMMAND")
        self._groups: dict[str, argparse._SubParsersAction] = {}

    def add(self, name: str, func: Callable[[argparse.Namespace], int], help: str,
            group: str | None = None, description: str | None = None) -> argparse.ArgumentParser:
        """A new command ``persona [group] name`` that runs ``func(args)`` and exits with its code."""
        parent = self._top if group is None else self._group(group)
        parser = parent.add_parser(name, help=help, description=description or help)
        parser.set_defaults(func=func)
        return parser

    def _group(self, name: str) -> argparse._SubParsersAction:
        if name not in self._groups:
            parser = self._top.add_parser(name, help=f"{name} commands")
            parser.set_defaults(func=lambda args, p=parser: p.print_help() or 1)
            self._groups[name] = parser.add_subparsers(dest=f"{name}_command", metavar="COMMAND")
        return self._groups[name]


class Parser(argparse.ArgumentParser):
    """argparse with the engine's error convention: bad input is one line and exit 1 (argparse's
    own is the usage text and exit 2). Sub-command parsers are of this class too."""

    def error(self, message: str):
        self.exit(1, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="persona", description="Persona real-time avatar engine")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    commands = Commands(parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.debug else logging.INFO if args.verbose else logging.WARNING
    # fd 2 is ours to take only on the process's own command line, not when a test calls main.
    logs.configure(level, native=argv is None and not args.debug)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        return int(args.func(args) or 0)
    except EngineError as error:
        if args.debug:
            raise
        print(f"persona: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
