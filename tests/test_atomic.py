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
