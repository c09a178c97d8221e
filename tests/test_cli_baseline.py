"""lifa run and lifa sweep on a checkpoint: its hidden layers, a fault-free accuracy of 0, the optional sensitivity map, resuming on other devices."""

import json
import os
import subprocess
import sys

import jax
import numpy as np

from lifa_jax.campaign import load_dataset
from lifa_jax.cli import main
from lifa_jax.io import save_checkpoint
from lifa_jax.network import SpikingNetwork


def test_zero_baseline_is_user_error(tmp_path, capsys):
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


def test_run_keeps_checkpoint_hidden_layers(checkpoint, tmp_path, capsys):
    # The checkpoint's hidden layer (24) is not the default 128; without --topology it is used as it is.
    out = tmp_path / "run"
    args = ["run", "--checkpoint", str(checkpoint), "--max-test", "30", "--masks", "2", "--rates", "0"]
    assert main([*args, "--out", str(out)]) == 0
    assert json.loads((out / "summary.json").read_text())["topology"] == [64, 24, 10]
    assert main([*args, "--topology", "64,128,10", "--out", str(tmp_path / "other")]) == 2
    assert "does not match --topology 64,128,10" in capsys.readouterr().err


def test_sweep_without_sensitivity_map(checkpoint, tmp_path):
    out = tmp_path / "s"
    args = ["sweep", "--checkpoint", str(checkpoint), "--rates", "0.1", "--masks", "2", "--chunk-size", "2"]
    assert main([*args, "--max-test", "30", "--no-repair", "--no-sensitivity", "--out", str(out)]) == 0
    assert not (out / "sensitivity.png").exists()
    assert json.loads((out / "summary.json").read_text())["critical_neurons"] is None
    assert "Not computed: the campaign ran with --no-sensitivity." in (out / "report.md").read_text()
    # A resume of the finished campaign rewrites a missing report without asking for the map.
    (out / "report.md").unlink()
    assert main(["sweep", "--resume", str(out)]) == 0
    assert (out / "report.md").is_file()
    assert not (out / "sensitivity.png").exists()


def test_sensitivity_key_in_toml(checkpoint, tmp_path):
    config = tmp_path / "c.toml"
    config.write_text(
        f'checkpoint = "{checkpoint}"\nrates = [0.1]\nmasks = 2\nchunk_size = 2\nmax_test = 30\n'
        "repair = false\nsensitivity = false\n"
    )
    out = tmp_path / "t"
    assert main(["sweep", "--config", str(config), "--out", str(out)]) == 0
    assert not (out / "sensitivity.png").exists()
    assert json.loads((out / "campaign.json").read_text())["config"]["sensitivity"] is False


def test_sharded_campaign_resumes_on_one_device(checkpoint, tmp_path, capsys):
    # Masks give the same results on any number of devices, so a campaign started on 4 may finish on 1.
    common = ["--checkpoint", str(checkpoint), "--faults", "neuron_dead", "--rates", "0.2", "--masks", "8"]
    common += ["--chunk-size", "4", "--max-test", "30", "--no-repair", "--no-sensitivity"]
    sharded = tmp_path / "sharded"
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4")
    command = [sys.executable, "-m", "lifa_jax.cli", "sweep", *common, "--devices", "4", "--out", str(sharded)]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    # Drop one chunk, as an interruption would, and resume on this process's single device.
    chunks = sorted((sharded / "chunks").iterdir())
    chunks[-1].unlink()
    (sharded / "sweep.nc").unlink()
    assert main(["sweep", "--resume", str(sharded)]) == 2
    assert "pass --devices 1 or fewer" in capsys.readouterr().err
    assert main(["sweep", "--resume", str(sharded), "--devices", "1"]) == 0
    whole = tmp_path / "whole"
    assert main(["sweep", *common, "--out", str(whole)]) == 0
    a, b = load_dataset(sharded), load_dataset(whole)
    for name in ("accuracy_no_repair", "status"):
        np.testing.assert_array_equal(a[name].values, b[name].values)
