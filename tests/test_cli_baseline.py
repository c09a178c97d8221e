"""lifa run and lifa sweep on a checkpoint: its hidden layers, and a fault-free accuracy of 0."""

import json

import jax
import pytest

from lifa_jax.cli import main
from lifa_jax.io import save_checkpoint
from lifa_jax.network import SpikingNetwork


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.eqx"
    save_checkpoint(path, SpikingNetwork.init([64, 24, 10], key=jax.random.key(0), domain_size=8))
    return path


def test_zero_fault_free_accuracy_is_a_user_error(tmp_path, capsys):
    # An untrained network misclassifies the first digits test sample, so FT has no baseline.
    path = tmp_path / "untrained.eqx"
    save_checkpoint(path, SpikingNetwork.init([64, 24, 10], key=jax.random.key(0), domain_size=8))
    common = ["--checkpoint", str(path), "--max-test", "1", "--masks", "2", "--rates", "0,0.1"]
    assert main(["run", *common, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "the fault-free accuracy is 0 on the 1 test samples, so the fault tolerance rate" in err
    assert "Traceback" not in err
    assert not (tmp_path / "run").exists()
    assert main(["sweep", *common, "--chunk-size", "2", "--out", str(tmp_path / "sweep")]) == 2
    err = capsys.readouterr().err
    assert "No mask was evaluated" in err
    assert not (tmp_path / "sweep" / "chunks").exists()


def test_run_takes_the_hidden_layers_of_a_checkpoint(checkpoint, tmp_path, capsys):
    # The checkpoint's hidden layer (24) is not the default 128; without --topology it is used as it is.
    out = tmp_path / "run"
    args = ["run", "--checkpoint", str(checkpoint), "--max-test", "30", "--masks", "2", "--rates", "0"]
    assert main([*args, "--out", str(out)]) == 0
    assert json.loads((out / "summary.json").read_text())["topology"] == [64, 24, 10]
    assert main([*args, "--topology", "64,128,10", "--out", str(tmp_path / "other")]) == 2
    assert "does not match --topology 64,128,10" in capsys.readouterr().err
