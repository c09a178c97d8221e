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


def main(argv: list[str] | None = None) -> int:
    """Run the `lifa` command line and return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
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
