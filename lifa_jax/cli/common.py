"""Pieces shared by the `lifa` subcommands."""

import argparse
import contextlib
import datetime
import pathlib
import re
import shutil
import sys


class UserError(Exception):
    """An invalid input from the user: printed as one line, exit status 2, no traceback."""


class Parser(argparse.ArgumentParser):
    """Argument parser whose usage errors are one line on stderr with exit status 2, as `UserError`s are."""

    def error(self, message: str):
        option = re.match(r"argument (--[\w-]+): expected one argument", message)
        if option:
            # argparse reads a value that starts with "-" as an option.
            message += f"; write {option.group(1)}=VALUE for a value that starts with '-'"
        self.exit(2, f"{self.prog}: error: {message}; run '{self.prog} --help' for the options\n")


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Help formatter that appends an option's default unless its help already names one or it is None."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text or action.default is None:
            return text
        return super()._get_help_string(action)


def _split_items(text: str, name: str, example: str) -> list[str]:
    """Return the comma-separated items of `text`, raising `UserError` when it is empty or has an empty item."""
    items = [item.strip() for item in text.split(",")]
    if not any(items):
        raise UserError(f"{name} is empty; give comma-separated values, for example {example}.")
    if not all(items):
        raise UserError(f"{name} has an empty item in {text!r}; separate the values by single commas, as in {example}.")
    return items


def parse_fault_specs(text, name: str) -> tuple[str, ...]:
    """Return the fault specifications listed in `text`, each in canonical form; raise `UserError` naming `name`.

    A specification is a fault kind, or kinds joined by "+" with "@RATE" after a
    kind whose rate stays fixed (see `lifa_jax.faults.parse_fault_spec`).
    """
    from ..faults import canonical_fault_spec

    specs = parse_name_list(str(text), name, "neuron_dead,synapse_dead")
    try:
        return tuple(canonical_fault_spec(spec) for spec in specs)
    except ValueError as error:
        raise UserError(f"{name}: {error}") from None


def parse_name_list(text: str, name: str, example: str) -> tuple[str, ...]:
    """Parse a comma-separated list of names such as ``"neuron_dead,synapse_dead"``."""
    return tuple(_split_items(text, name, example))


def parse_float_list(text: str, name: str, example: str = "0,0.1,0.5") -> list[float]:
    """Parse a comma-separated list of numbers such as ``"0,0.1,0.5"``."""
    items = _split_items(text, name, example)
    try:
        return [float(v) for v in items]
    except ValueError:
        raise UserError(f"{name} must be comma-separated numbers, got {text!r}; for example {example}.") from None


def parse_int_list(text: str, name: str, example: str = "64,128,10") -> list[int]:
    """Parse a comma-separated list of integers such as ``"64,128,10"``."""
    items = _split_items(text, name, example)
    try:
        return [int(v) for v in items]
    except ValueError:
        raise UserError(f"{name} must be comma-separated integers, got {text!r}; for example {example}.") from None


def default_out_dir(command: str) -> pathlib.Path:
    """Return ``runs/<command>-<timestamp>`` for a command's results, or ``...-2``, ``-3`` when that exists."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = pathlib.Path("runs") / f"{command}-{stamp}"
    index = 2
    while folder.exists():
        folder = pathlib.Path("runs") / f"{command}-{stamp}-{index}"
        index += 1
    return folder


def add_output_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """Add the `--out`, `--overwrite` and `--quick` options every study command takes."""
    parser.add_argument(
        "--out",
        type=pathlib.Path,
        default=None,
        help=f"folder for the results (default: runs/{command}-<timestamp>); must be new or empty",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an --out folder of earlier results (one with summary.json, campaign.json or fitted.json)",
    )
    parser.add_argument("--quick", action="store_true", help="small, fast settings for a smoke test")


def input_paths(args) -> tuple:
    """Return the input files and folders named by a command's options (checkpoint, data, traces, config)."""
    names = ("checkpoint", "data_path", "traces", "config")
    return tuple(getattr(args, name) for name in names if getattr(args, name, None) is not None)


@contextlib.contextmanager
def staged_output(out: pathlib.Path, *, overwrite: bool, inputs: tuple = ()):
    """Yield a staging folder for a command's results and publish it as `out` on success.

    Every result is written into the staging folder. The folder is renamed into
    place only when the block ends without an exception, so an interrupted or
    failed command leaves `out` as it was. A non-empty `out` without
    `overwrite` is a `UserError`.
    """
    from ..io import prepare_output_dir, publish_output_dir
    from ..io.atomic import OutputFolderError

    try:
        staging = prepare_output_dir(out, overwrite=overwrite, inputs=inputs)
    except (FileExistsError, OutputFolderError) as error:
        raise UserError(str(error)) from None
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    try:
        published = publish_output_dir(staging, out, overwrite=overwrite)
    except OSError as error:
        raise UserError(
            f"cannot move the results into {str(out)!r} ({error.strerror or error}); they are kept in {str(staging)!r}."
        ) from None
    if published != pathlib.Path(out).resolve():
        print(
            f"warning: {str(out)!r} was written to by another process while this command ran, so it is left as "
            f"it is and the results are in {str(published)!r}",
            file=sys.stderr,
        )
        out = published
    print(f"results written to {out}")
