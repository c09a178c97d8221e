"""The `lifa` command line: `lifa run` and the study commands."""

import argparse
import importlib
import sys

from .common import Parser, UserError

# Subcommand modules; each defines `register(subparsers)`, which adds its parser and
# sets `func` to a callable taking the parsed arguments and returning an exit status.
COMMAND_MODULES = ("run", "sweep", "fit", "memory", "energy", "route")


def build_parser() -> argparse.ArgumentParser:
    """Return the `lifa` argument parser with every subcommand registered."""
    parser = Parser(
        prog="lifa",
        description=(
            "Spiking neural networks with leaky integrate-and-fire astrocytes (LIFA): "
            "training, fault sweeps with and without astrocyte repair, and reports. "
            "Times are in ms, rates in Hz, fault rates are fractions in [0, 1]."
        ),
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        module.register(subparsers)
    return parser


def _subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    """Return the parser of subcommand `command`."""
    for action in parser._subparsers._group_actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[command]
    raise KeyError(command)


def main(argv: list[str] | None = None) -> int:
    """Run the `lifa` command line and return its exit status."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        # Name the subcommand's own help, which lists the options it takes.
        command = parser if args.command is None else _subparser(parser, args.command)
        command.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UserError as error:
        print(f"lifa {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"lifa {args.command}: interrupted; no partial results were published.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
