"""Atomic writes: results get the permissions of files and folders created the usual way."""

import os
import stat

import pytest

from lifa_jax.io import atomic


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_atomic_file_follows_umask(tmp_path, umask_022):
    path = atomic.atomic_write_text(tmp_path / "summary.json", "{}\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert path.read_text() == "{}\n"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_staging_folder_follows_umask(tmp_path, umask_022):
    staging = atomic.prepare_output_dir(tmp_path / "run", overwrite=False)
    assert stat.S_IMODE(staging.stat().st_mode) == 0o755
    out = atomic.publish_output_dir(staging, tmp_path / "run")
    assert stat.S_IMODE(out.stat().st_mode) == 0o755


def test_publish_keeps_folder_filled_meanwhile(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    staging = atomic.prepare_output_dir(out, overwrite=False)
    (staging / "summary.json").write_text("new")
    # Another process writes into the empty --out while the command runs.
    (out / "late.txt").write_text("late")
    published = atomic.publish_output_dir(staging, out)
    assert published == (tmp_path / "run-2").resolve()
    assert (out / "late.txt").read_text() == "late"
    assert (published / "summary.json").read_text() == "new"


def test_publish_twice_to_same_folder(tmp_path):
    # Two commands started together with the same --out: the second gets the next free name.
    first = atomic.prepare_output_dir(tmp_path / "run", overwrite=False)
    second = atomic.prepare_output_dir(tmp_path / "run", overwrite=False)
    (first / "summary.json").write_text("1")
    (second / "summary.json").write_text("2")
    assert atomic.publish_output_dir(first, tmp_path / "run") == (tmp_path / "run").resolve()
    assert atomic.publish_output_dir(second, tmp_path / "run") == (tmp_path / "run-2").resolve()
    assert (tmp_path / "run" / "summary.json").read_text() == "1"
    assert (tmp_path / "run-2" / "summary.json").read_text() == "2"


def test_overwrite_keeps_neighbouring_folders(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "summary.json").write_text("old")
    neighbour = tmp_path / ".run.old"
    neighbour.mkdir()
    (neighbour / "keep.txt").write_text("keep")
    staging = atomic.prepare_output_dir(out, overwrite=True)
    (staging / "summary.json").write_text("new")
    assert atomic.publish_output_dir(staging, out, overwrite=True) == out.resolve()
    assert (out / "summary.json").read_text() == "new"
    assert (neighbour / "keep.txt").read_text() == "keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".run.old", "run"]


def test_overwrite_rejects_input_inside_out(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "summary.json").write_text("old")
    (out / "model.eqx").write_text("model")
    with pytest.raises(
        FileExistsError, match="--overwrite would delete .*model.eqx.*, an input of this command inside"
    ):
        atomic.prepare_output_dir(out, overwrite=True, inputs=(out / "model.eqx",))
    assert sorted(p.name for p in out.iterdir()) == ["model.eqx", "summary.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_publish_failure_keeps_staging(tmp_path, monkeypatch):
    from lifa_jax.cli.common import UserError, staged_output

    def deny_move(source, target):
        raise PermissionError(13, "Permission denied")

    out = tmp_path / "run"
    monkeypatch.setattr(atomic.os, "replace", deny_move)
    with pytest.raises(UserError, match="cannot move the results into .*Permission denied.*they are kept in"):
        with staged_output(out, overwrite=False) as staging:
            (staging / "summary.json").write_text("{}")
    assert (staging / "summary.json").read_text() == "{}"
    assert not out.exists()


def test_overwrite_rejects_input_that_is_out(tmp_path):
    out = tmp_path / "data"
    out.mkdir()
    (out / "summary.json").write_text("old")
    with pytest.raises(FileExistsError, match="--overwrite would delete"):
        atomic.prepare_output_dir(out, overwrite=True, inputs=(out,))
    assert [p.name for p in out.iterdir()] == ["summary.json"]
