"""Write results so that a failure never leaves a half-written file or folder."""

import errno
import json
import os
import pathlib
import shutil
import tempfile


def _umask() -> int:
    """Return the process's umask, read from /proc on Linux so that it never changes, even briefly."""
    try:
        for line in pathlib.Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    # Elsewhere the only way to read it is to set it and put it back.
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _umask_mode(mode: int) -> int:
    """Return `mode` with the process's umask applied, as `open` and `mkdir` apply it."""
    return mode & ~_umask()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> pathlib.Path:
    """Write `data` to a temporary file beside `path`, then rename it into place.

    The file gets the permissions of a file created by `open` (0o666 less the
    umask), not the owner-only ones of the temporary file.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, _umask_mode(0o666))
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> pathlib.Path:
    """Write `text` (UTF-8) atomically to `path`."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj) -> pathlib.Path:
    """Write `obj` as indented JSON atomically to `path`."""
    return atomic_write_text(path, json.dumps(obj, indent=2, allow_nan=False) + "\n")


class OutputFolderError(OSError):
    """An output folder that cannot be created, with a message that names it and the fix."""


# Files that mark a folder as earlier lifa_jax results, which `--overwrite` may replace.
RESULT_MARKERS = ("summary.json", "campaign.json", "fitted.json")


def check_replaceable(folder: pathlib.Path, requested: str | os.PathLike | None = None) -> None:
    """Raise `FileExistsError` unless the non-empty `folder` contains earlier results (a file of `RESULT_MARKERS`).

    `--overwrite` deletes a folder's contents, so it only does so for a folder
    that lifa_jax wrote, never for one holding other files.
    """
    if not any((folder / name).is_file() for name in RESULT_MARKERS):
        name = str(folder if requested is None else requested)
        raise FileExistsError(
            f"--overwrite replaces only a folder of earlier results (one with {', '.join(RESULT_MARKERS[:-1])} or "
            f"{RESULT_MARKERS[-1]}), and {name!r} has none of them, so it is left as it is; choose another --out or "
            "empty the folder yourself."
        )


def prepare_output_dir(out: str | os.PathLike, *, overwrite: bool, inputs: tuple = ()) -> pathlib.Path:
    """Check that `out` may receive results and return a fresh staging folder beside it.

    Results are written into the staging folder and moved to `out` by
    `publish_output_dir` only when everything succeeded, so a failed run leaves
    no partial output. Raises `FileExistsError` when `out` exists, is not empty
    and `overwrite` is false, and when `out` is the current folder or one of
    its parents (it cannot be renamed away while in use).
    """
    requested = out
    out = pathlib.Path(out).resolve()
    cwd = pathlib.Path.cwd().resolve()
    if out == cwd or out in cwd.parents:
        raise FileExistsError(
            f"output folder {str(requested)!r} is the current folder or contains it, so it cannot be replaced; "
            "choose a new folder such as runs/results."
        )
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"output path {str(requested)!r} exists and is not a folder; choose another --out.")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise FileExistsError(
                f"output folder {str(requested)!r} exists and is not empty; choose another --out or pass --overwrite."
            )
        check_replaceable(out, requested)
        for path in inputs:
            resolved = pathlib.Path(path).resolve()
            if resolved == out or out in resolved.parents:
                raise FileExistsError(
                    f"--overwrite would delete {str(path)!r}, an input of this command inside {str(requested)!r}; "
                    "copy it elsewhere or choose another --out."
                )
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    except OSError as error:
        raise OutputFolderError(
            f"cannot create output folder {str(requested)!r} ({creation_problem(out, error)}); choose another --out."
        ) from None
    # The published folder gets the permissions of one made by `mkdir`, not mkdtemp's owner-only ones.
    staging.chmod(_umask_mode(0o777))
    return staging


def creation_problem(folder: pathlib.Path, error: OSError) -> str:
    """Return why `folder` could not be created: a file on its way, or the system's reason."""
    for parent in folder.parents:
        if parent.exists():
            return f"{parent} is a file" if not parent.is_dir() else error.strerror or str(error)
    return error.strerror or str(error)


# Errors of os.replace when another process took the target name first.
_NAME_TAKEN = (errno.EEXIST, errno.ENOTEMPTY, errno.EISDIR, errno.ENOTDIR)


def _is_free(folder: pathlib.Path) -> bool:
    """Return whether `folder` is missing or an empty folder."""
    return not folder.exists() or (folder.is_dir() and not any(folder.iterdir()))


def _move_to_free(staging: pathlib.Path, target: pathlib.Path) -> bool:
    """Move `staging` to the missing or empty `target`; return False when another process took `target` first."""
    try:
        # os.replace moves a folder onto a missing or empty folder, and fails on a non-empty one.
        os.replace(staging, target)
    except OSError as error:
        if error.errno not in _NAME_TAKEN:
            raise
        return False
    return True


def publish_output_dir(staging: pathlib.Path, out: str | os.PathLike, *, overwrite: bool = False) -> pathlib.Path:
    """Move the finished `staging` folder to `out` and return the folder the results are in.

    `out` is checked again here, because another process may have written to it
    while the command ran. A missing or empty `out` receives the results. With
    `overwrite`, a folder of earlier results (see `check_replaceable`) is
    replaced. Any other `out` is left as it is, and the results go to the first
    free `out-2`, `out-3`, ... beside it.
    """
    out = pathlib.Path(out).resolve()
    free = _is_free(out)
    if free and _move_to_free(staging, out):
        return out
    if not free and overwrite and out.is_dir() and any((out / name).is_file() for name in RESULT_MARKERS):
        old = pathlib.Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
        os.replace(out, old)
        os.replace(staging, out)
        shutil.rmtree(old, ignore_errors=True)
        return out
    for index in range(2, 10_000):
        other = out.with_name(f"{out.name}-{index}")
        if not other.exists() and _move_to_free(staging, other):
            return other
    raise FileExistsError(f"no free folder name beside {str(out)!r}; the results are kept in {str(staging)!r}.")
