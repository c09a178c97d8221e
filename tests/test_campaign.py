"""Fault campaigns: resume after SIGKILL, sharding over devices, datasets, sensitivity."""

import json
import os
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from lifa_jax.campaign import CampaignConfig, config_differences, load_dataset
from lifa_jax.cli import main
from lifa_jax.faults import accuracy_under, sensitivity_map
from lifa_jax.io import save_checkpoint
from lifa_jax.network import RegularEncoder, SpikingNetwork


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.eqx"
    net = SpikingNetwork.init([64, 24, 10], key=jax.random.key(0), domain_size=8)
    save_checkpoint(path, net)
    return path


def sweep_args(checkpoint, out, *extra):
    return [
        "sweep",
        "--checkpoint",
        str(checkpoint),
        "--faults",
        "neuron_dead,synapse_bitflip_fixed",
        "--rates",
        "0.1,0.3",
        "--masks",
        "6",
        "--chunk-size",
        "2",
        "--max-test",
        "60",
        "--repair-passes",
        "3",
        "--out",
        str(out),
        *extra,
    ]


def run_cli(args, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "lifa_jax.cli", *args], capture_output=True, text=True, timeout=900, **kwargs
    )


@pytest.mark.slow
def test_resume_after_sigkill_matches_uninterrupted(checkpoint, tmp_path):
    whole = tmp_path / "whole"
    result = run_cli(sweep_args(checkpoint, whole))
    assert result.returncode == 0, result.stderr

    killed = tmp_path / "killed"
    process = subprocess.Popen(
        [sys.executable, "-m", "lifa_jax.cli", *sweep_args(checkpoint, killed)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and process.poll() is None:
        chunks = list((killed / "chunks").glob("*.npz")) if (killed / "chunks").is_dir() else []
        if len(chunks) >= 2:
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    written = len(list((killed / "chunks").glob("*.npz")))
    assert written >= 2
    if written < 6:
        # Killed mid-campaign (on a busy machine the run can finish before the kill lands).
        assert not (killed / "sweep.nc").exists()

    resumed = run_cli(["sweep", "--resume", str(killed)])
    assert resumed.returncode == 0, resumed.stderr
    if written < 6:
        assert f"{written} of 6 chunks already done" in resumed.stderr
    a, b = load_dataset(whole / "sweep.nc"), load_dataset(killed / "sweep.nc")
    for name in ("accuracy_no_repair", "accuracy_repair", "status"):
        np.testing.assert_array_equal(a[name].values, b[name].values)


def test_resume_with_other_settings_is_refused(checkpoint, tmp_path, capsys):
    out = tmp_path / "c"
    out.mkdir()
    config = CampaignConfig(masks=6, chunk_size=2, checkpoint=str(checkpoint))
    (out / "campaign.json").write_text(json.dumps({"schema_version": 1, "config": config.to_dict()}))
    code = main(["sweep", "--resume", str(out), "--masks", "8", "--seed", "3"])
    err = capsys.readouterr().err
    assert code == 2
    assert "masks" in err
    assert "run.seed" in err
    assert "started with other settings" in err


def test_config_differences_names_nested_fields():
    a = CampaignConfig(masks=10).to_dict()
    b = CampaignConfig(masks=12, rates=(0.1,)).to_dict()
    b["run"]["steps"] = 30
    assert config_differences(a, b) == ["masks", "rates", "run.steps"]


SHARDING_SCRIPT = """
import jax, numpy as np
from lifa_jax.faults import NeuronDead, SynapseDead, run_sweep, mask_mesh
from lifa_jax.network import SpikingNetwork, RegularEncoder
from lifa_jax.repair import HomeostaticRepair
net = SpikingNetwork.init([12, 16, 4], key=jax.random.key(0), domain_size=4)
x = jax.random.uniform(jax.random.key(1), (16, 12))
spikes = jax.vmap(lambda v: RegularEncoder(max_rate=1000.0)(v, 12))(x)
labels = jax.random.randint(jax.random.key(2), (16,), 0, 4)
repair = HomeostaticRepair(passes=2)
sp = repair.calibrate(net, spikes)
mesh = mask_mesh() if len(jax.devices()) > 1 else None
recs = run_sweep(net, [NeuronDead(0.3), SynapseDead(0.2)], spikes, labels, n_masks=16, key=jax.random.key(3),
                 repair=repair, set_points=sp, adapt_spikes=spikes, chunk_size=2, mesh=mesh)
print(len(jax.devices()))
print(np.concatenate([np.concatenate([r["accuracy_no_repair"], r["accuracy_repair"]]) for r in recs]).tolist())
"""


@pytest.mark.slow
def test_sharded_sweep_matches_one_device():
    outputs = []
    for devices in (1, 4):
        env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
        result = subprocess.run(
            [sys.executable, "-c", SHARDING_SCRIPT], capture_output=True, text=True, env=env, timeout=600
        )
        assert result.returncode == 0, result.stderr
        lines = result.stdout.strip().splitlines()
        assert lines[0] == str(devices)
        outputs.append(json.loads(lines[1]))
    assert outputs[0] == outputs[1]


def test_sensitivity_map_matches_single_masks():
    net = SpikingNetwork.init([8, 6, 3], key=jax.random.key(0), domain_size=3, weight_scale=4.0)
    x = jax.random.uniform(jax.random.key(1), (20, 8))
    spikes = jax.vmap(lambda v: RegularEncoder(max_rate=1000.0)(v, 15))(x)
    labels = jax.random.randint(jax.random.key(2), (20,), 0, 3)
    a_ff, (drops,) = sensitivity_map(net, spikes, labels)
    for i in range(6):
        faults = net.no_faults()
        alive = faults.neuron_alive[0].at[i].set(0.0)
        import equinox as eqx

        faults = eqx.tree_at(lambda f: f.neuron_alive, faults, (alive, faults.neuron_alive[1]))
        expected = a_ff - accuracy_under(net, spikes, labels, faults, net.unit_gains())
        assert float(drops[i]) == pytest.approx(float(expected), abs=1e-6)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--faults", "neuron_zombie"], "unknown fault kind 'neuron_zombie'; use one of: astrocyte_dead"),
        (["--rates", "0.1,2"], r"--rates must lie in \[0, 1\], got \[2.0\]"),
        (["--masks", "0"], "--masks must be at least 1, got 0"),
        (
            ["--faults", "synapse_bitflip_fixed", "--bits", "9"],
            r"--bits lists bit positions \[9\] outside the 8-bit Q\(2, 6\) word of synapse_bitflip_fixed; use positions 0 to 7",
        ),
        (["--faults", "synapse_bitflip_fixed", "--bits=-1"], r"--bits lists bit positions \[-1\] outside the 8-bit"),
        (
            ["--faults", "synapse_bitflip_float", "--bits", "32"],
            r"--bits lists bit positions \[32\] outside the 32-bit float word of synapse_bitflip_float",
        ),
        (
            ["--faults", "synapse_bitflip_fixed", "--bits", "abc"],
            "--bits must be comma-separated integers, got 'abc'; for example 0,7",
        ),
        (
            ["--faults", "synapse_bitflip_fixed", "--fixed-format", "40.2"],
            "--fixed-format 40.2 is not a supported fixed-point format; use at least one integer bit",
        ),
        (["--rates", "0,,0.1"], "--rates has an empty item in '0,,0.1'; separate the values by single commas"),
        (["--rates", ","], "--rates is empty; give comma-separated values"),
        (["--faults", "neuron_dead,,synapse_dead"], "--faults has an empty item in 'neuron_dead,,synapse_dead'"),
        (
            ["--faults", "neuron_dead", "--bits", "3"],
            r"--bits applies to synapse_bitflip_fixed and synapse_bitflip_float, and --faults \(neuron_dead\) has neither",
        ),
        (
            ["--faults", "synapse_bitflip_fixed", "--fixed-format", "1.0"],
            "--fixed-format 1.0 is not a supported fixed-point format",
        ),
        (
            ["--faults", "synapse_bitflip_fixed,synapse_bitflip_float", "--bits", "20"],
            r"outside the 8-bit Q\(2, 6\) word of synapse_bitflip_fixed; use positions 0 to 7; to give each kind its own positions, use --fault-option KIND.bits=POSITIONS\.",
        ),
        (["--devices", "4"], "--devices 4 exceeds the 1 devices JAX sees"),
        (
            ["--devices", "4", "--chunk-size", "4", "--masks", "8"],
            "--devices 4 exceeds the 1 devices JAX sees; pass --devices 1 or fewer",
        ),
    ],
)
def test_sweep_bad_input(checkpoint, tmp_path, capsys, extra, message):
    import re

    out = tmp_path / "o"
    code = main(sweep_args(checkpoint, out, *extra))
    err = capsys.readouterr().err
    assert code == 2
    assert re.search(message, err), err
    assert not out.exists()


def test_bits_checked_against_fault_option_format(checkpoint, tmp_path):
    # --fault-option overrides --fixed-format for its kind: bit 9 exists in Q(4, 6), and bits=3 replaces --bits 9.
    for extra in (
        ["--fault-option", "synapse_bitflip_fixed.int_bits=4", "--bits", "9"],
        ["--bits", "9", "--fault-option", "synapse_bitflip_fixed.bits=3"],
    ):
        out = tmp_path / f"o{len(list(tmp_path.iterdir()))}"
        fast = ["--rates", "0.1", "--masks", "2", "--no-repair"]
        assert main(sweep_args(checkpoint, out, "--faults", "synapse_bitflip_fixed", *fast, *extra)) == 0, extra


def test_zero_flip_rate_warns(checkpoint, tmp_path, capsys):
    out = tmp_path / "o"
    args = sweep_args(checkpoint, out, "--faults", "synapse_bitflip_float", "--bits", "30", "--rates", "0,1e-4")
    args += ["--masks", "2", "--no-repair"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "warning: synapse_bitflip_float at rate 0.0001 flips floor(0.0001 x " in err
    assert ") = 0 bits per mask in exact mode, so its results equal the fault-free run" in err


def test_sweep_checkpoint_is_a_folder(tmp_path, capsys):
    code = main(["sweep", "--checkpoint", str(tmp_path), "--out", str(tmp_path / "o")])
    assert code == 2
    assert f"checkpoint {str(tmp_path)!r} is a folder; pass the model.eqx file inside it." in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_sweep_checkpoint_topology_mismatch(tmp_path, capsys):
    path = tmp_path / "m.eqx"
    save_checkpoint(path, SpikingNetwork.init([100, 8, 10], key=jax.random.key(0)))
    code = main(["sweep", "--checkpoint", str(path), "--out", str(tmp_path / "o")])
    assert code == 2
    assert "does not match the digits data (64 inputs, 10 classes)" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_toml_config_and_unknown_key(checkpoint, tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text(
        'faults = ["neuron_dead"]\nrates = [0.2]\nmasks = 2\nchunk_size = 2\nmax_test = 30\n'
        f'checkpoint = "{checkpoint}"\nrepair = false\n'
    )
    out = tmp_path / "o"
    assert main(["sweep", "--config", str(config), "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert [e["fault"] for e in summary["sweep"]] == ["neuron_dead"]
    assert summary["sweep"][0]["ft_repair"] is None
    ds = load_dataset(out / "sweep.nc")
    assert ds["accuracy_no_repair"].shape == (1, 1, 2)

    bad = tmp_path / "bad.toml"
    bad.write_text("maskz = 3\n")
    assert main(["sweep", "--config", str(bad), "--out", str(tmp_path / "p")]) == 2
    assert "unknown key 'maskz'" in capsys.readouterr().err


def test_dataset_round_trip_keeps_values(checkpoint, tmp_path):
    from lifa_jax.campaign import campaign_dataset, save_dataset

    config = CampaignConfig(faults=("neuron_dead",), rates=(0.1, 0.2), masks=3)
    arrays = {
        "accuracy_no_repair": np.array([[[0.5, 0.6, 0.7], [0.4, 0.3, 0.2]]], np.float32),
        "accuracy_repair": np.array([[[0.6, 0.7, 0.8], [0.5, 0.4, 0.3]]], np.float32),
        "status": np.zeros((1, 2, 3), np.int32),
    }
    ds = campaign_dataset(config, arrays, 0.8)
    save_dataset(ds, tmp_path / "d.nc")
    back = load_dataset(tmp_path / "d.nc")
    np.testing.assert_array_equal(back["accuracy_repair"].values, arrays["accuracy_repair"])
    assert float(back["ft_no_repair"].sel(fault="neuron_dead", rate=0.1, mask=0)) == pytest.approx(62.5)
    assert back.attrs["accuracy_fault_free"] == pytest.approx(0.8)
    # A campaign folder reads its sweep.nc; a folder without one is named in the error.
    save_dataset(ds, tmp_path / "campaign" / "sweep.nc")
    from_folder = load_dataset(tmp_path / "campaign")
    np.testing.assert_array_equal(from_folder["accuracy_repair"].values, arrays["accuracy_repair"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="empty/sweep.nc' not found"):
        load_dataset(tmp_path / "empty")


def test_campaign_dict_names_each_setting_once():
    config = CampaignConfig(faults=("synapse_dead",), rates=(0.0, 0.2), masks=3, chunk_size=2)
    data = config.to_dict()
    for name in ("faults", "rates", "masks", "chunk_size"):
        assert name not in data["run"]
    assert data["masks"] == 3
    assert data["chunk_size"] == 2
    # A campaign.json that still lists them under `run` loads and compares equal.
    old = json.loads(json.dumps(data))
    old["run"].update(faults=["neuron_dead"], rates=[0.5], masks=100, chunk_size=25)
    assert config_differences(CampaignConfig.from_dict(old).to_dict(), data) == []
