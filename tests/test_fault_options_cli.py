"""`lifa sweep --fault-option` and [fault_options.KIND]: parsing, bad input, resume, and repair-off setup."""

import io
import json
import re

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lifa_jax.faults
from lifa_jax import pipeline
from lifa_jax.campaign import (
    CampaignConfig,
    chunk_bounds,
    chunk_path,
    fault_option_fields,
    read_campaign_file,
    run_campaign,
    write_campaign_file,
)
from lifa_jax.cli import main
from lifa_jax.cli.sweep import FAULT_FIELD_TYPES
from lifa_jax.cli.sweep import OUTPUT_FILES as OUTPUTS
from lifa_jax.data import load_digits
from lifa_jax.faults import FAULT_KINDS, NeuronParametric, SynapseBitFlipFixed, run_sweep
from lifa_jax.io import atomic_write_bytes, atomic_write_json, load_checkpoint, save_checkpoint
from lifa_jax.network import RegularEncoder, SpikingNetwork
from lifa_jax.repair import HomeostaticRepair
from lifa_jax.training import encode_batch

BASE = ["sweep", "--masks", "1", "--chunk-size", "1", "--rates", "1", "--max-test", "20", "--steps", "8"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A 64-24-10 network whose weights are scaled up, so its hidden neurons spike and matter."""
    path = tmp_path_factory.mktemp("model") / "model.eqx"
    network = SpikingNetwork.init([64, 24, 10], key=jax.random.key(0), domain_size=8)
    network = eqx.tree_at(lambda n: n.weights, network, tuple(3.0 * w for w in network.weights))
    save_checkpoint(path, network)
    return path


def sweep(checkpoint, out, *extra) -> int:
    return main([*BASE, "--checkpoint", str(checkpoint), "--out", str(out), *extra])


def write_finished_chunks(config: CampaignConfig, folder) -> None:
    """Write every chunk file of `config` with made-up accuracies, so a resume recomputes no chunk."""
    for kind in config.faults:
        for r, rate in enumerate(config.rates):
            for c, (start, stop) in enumerate(chunk_bounds(config)):
                accuracy = np.full(stop - start, 0.5, np.float32)
                buffer = io.BytesIO()
                np.savez(
                    buffer,
                    accuracy_no_repair=accuracy,
                    accuracy_repair=accuracy,
                    status=np.zeros(stop - start, np.int32),
                    start=start,
                    stop=stop,
                    rate=rate,
                )
                atomic_write_bytes(chunk_path(folder, kind, r, c), buffer.getvalue())


def test_every_settable_field_has_a_value_type():
    for kind in FAULT_KINDS:
        for field in fault_option_fields(kind):
            assert field in FAULT_FIELD_TYPES, (kind, field)
        assert "rate" not in fault_option_fields(kind)
        assert "among" not in fault_option_fields(kind)


def test_fault_options_parsed_into_campaign_json(checkpoint, tmp_path, monkeypatch):
    # campaign.json is written after the checks and before the simulation, which is skipped here.
    monkeypatch.setattr("lifa_jax.cli.sweep._execute", lambda *a, **k: 0)
    out = tmp_path / "o"
    faults = "neuron_parametric,neuron_stuck,synapse_saturated,synapse_bitflip_fixed,synapse_bitflip_float"
    args = [
        "--faults",
        faults,
        "--bits",
        "7",
        "--fault-option",
        "neuron_parametric.threshold_factor=1.2",
        "--fault-option",
        "neuron_parametric.tau_factor=2",
        "--fault-option",
        "neuron_parametric.layers=0",
        "--fault-option",
        "neuron_stuck.value=0.5",
        "--fault-option",
        "neuron_stuck.exact=False",
        "--fault-option",
        "synapse_saturated.w_max=none",
        "--fault-option",
        "synapse_saturated.sign=-1",
        "--fault-option",
        "synapse_bitflip_fixed.bits=1,3",
        "--fault-option",
        "synapse_bitflip_fixed.frac_bits=5",
        "--fault-option",
        "synapse_bitflip_fixed.scale=0.05",
    ]
    assert sweep(checkpoint, out, *args) == 0
    config = read_campaign_file(out)
    assert config.fault_options["neuron_parametric"] == {"threshold_factor": 1.2, "tau_factor": 2.0, "layers": [0]}
    assert config.fault_options["neuron_stuck"] == {"value": 0.5, "exact": False}
    assert config.fault_options["synapse_saturated"] == {"w_max": None, "sign": -1}
    # A field set by --fault-option takes precedence over --bits and --fixed-format for its kind only.
    assert config.fault_options["synapse_bitflip_fixed"] == {
        "int_bits": 2,
        "frac_bits": 5,
        "bits": [1, 3],
        "scale": 0.05,
    }
    assert config.fault_options["synapse_bitflip_float"] == {"bits": [7]}

    parametric = config.build_fault("neuron_parametric", 0.1)
    assert isinstance(parametric, NeuronParametric)
    assert parametric.threshold_factor == 1.2
    assert parametric.tau_factor == 2.0
    assert parametric.layers == (0,)
    fixed = config.build_fault("synapse_bitflip_fixed", 0.1)
    assert isinstance(fixed, SynapseBitFlipFixed)
    assert fixed.bits == (1, 3)
    assert fixed.width == 7
    assert config.build_fault("neuron_stuck", 0.1).exact is False


def test_toml_fault_options_table(checkpoint, tmp_path, monkeypatch):
    monkeypatch.setattr("lifa_jax.cli.sweep._execute", lambda *a, **k: 0)
    config = tmp_path / "c.toml"
    config.write_text(
        'faults = ["neuron_parametric", "synapse_bitflip_float"]\n'
        "[fault_options.neuron_parametric]\nthreshold_factor = 1.2\ntau_factor = 1\n"
        "[fault_options.synapse_bitflip_float]\nbits = [23, 30]\nexact = false\n"
    )
    out = tmp_path / "o"
    assert sweep(checkpoint, out, "--config", str(config)) == 0
    stored = read_campaign_file(out)
    assert stored.fault_options["neuron_parametric"] == {"threshold_factor": 1.2, "tau_factor": 1.0}
    assert stored.fault_options["synapse_bitflip_float"] == {"bits": [23, 30], "exact": False}

    # A --fault-option value replaces the TOML value of the same field and keeps the others.
    out = tmp_path / "p"
    assert sweep(checkpoint, out, "--config", str(config), "--fault-option", "neuron_parametric.tau_factor=3") == 0
    stored = read_campaign_file(out)
    assert stored.fault_options["neuron_parametric"] == {"threshold_factor": 1.2, "tau_factor": 3.0}


@pytest.mark.parametrize(
    "extra, message",
    [
        (
            ["--fault-option", "neuron_zombie.value=1"],
            r"--fault-option neuron_zombie.value: unknown fault kind 'neuron_zombie'; use one of: astrocyte_dead, "
            r"astrocyte_stuck, neuron_dead",
        ),
        (
            ["--faults", "neuron_stuck", "--fault-option", "neuron_stuck.threshold=1"],
            r"fault kind neuron_stuck has no settable field 'threshold'; its settable fields are exact, layers, value\.",
        ),
        (
            ["--faults", "neuron_stuck", "--fault-option", "neuron_stuck.rate=0.1"],
            r"no settable field 'rate'; .* The rate comes from --rates; inside a combination, neuron_stuck@RATE in "
            r"--faults fixes it\.",
        ),
        (
            ["--faults", "neuron_dead", "--fault-option", "neuron_dead.among=0"],
            r"no settable field 'among'; .* set only on faults built in Python\.",
        ),
        (
            ["--faults", "neuron_stuck", "--fault-option", "neuron_stuck.value"],
            r"--fault-option 'neuron_stuck.value' must look like KIND.FIELD=VALUE",
        ),
        (
            ["--faults", "neuron_stuck", "--fault-option", "neuron_stuck.value=high"],
            r"--fault-option neuron_stuck.value must be a finite number, got 'high'; "
            r"for example --fault-option neuron_stuck.value=0.5\.",
        ),
        (
            ["--faults", "neuron_stuck", "--fault-option", "neuron_stuck.value=nan"],
            r"neuron_stuck.value must be a finite number, got 'nan'",
        ),
        (
            ["--faults", "neuron_dead", "--fault-option", "neuron_dead.exact=yes"],
            r"neuron_dead.exact must be true or false, got 'yes'",
        ),
        (
            ["--faults", "synapse_saturated", "--fault-option", "synapse_saturated.sign=0.5"],
            r"synapse_saturated.sign must be an integer, got '0.5'",
        ),
        (
            ["--faults", "synapse_bitflip_float", "--fault-option", "synapse_bitflip_float.bits=7,x"],
            r"synapse_bitflip_float.bits must be comma-separated integers or none, got '7,x'",
        ),
        (
            ["--faults", "synapse_bitflip_float", "--fault-option", "synapse_bitflip_float.bits=7,7"],
            r"--fault-option synapse_bitflip_float.bits repeats \[7\]; list each entry once\.",
        ),
        (
            ["--faults", "neuron_parametric", "--fault-option", "neuron_parametric.threshold_factor=-1"],
            r"--fault-option neuron_parametric.threshold_factor: threshold_factor must be positive, got -1.0",
        ),
        (
            ["--faults", "synapse_saturated", "--fault-option", "synapse_saturated.w_max=0"],
            r"--fault-option synapse_saturated.w_max: w_max must be positive, got 0.0",
        ),
        (
            ["--faults", "synapse_bitflip_fixed", "--bits", "7", "--fault-option", "synapse_bitflip_fixed.int_bits=1"],
            r"--fault-option synapse_bitflip_fixed.int_bits: bit positions \[7\] lie outside the 7-bit Q\(1, 6\) word",
        ),
        (
            ["--fault-option", "neuron_stuck.value=0.5"],
            r"--fault-option neuron_stuck.value sets a field of neuron_stuck, which is not in --faults "
            r"\(neuron_dead,synapse_dead\); add neuron_stuck to --faults or drop the option\.",
        ),
        (
            ["--faults", "neuron_parametric", *["--fault-option", "neuron_parametric.tau_factor=2"] * 2],
            r"--fault-option neuron_parametric.tau_factor is given more than once; keep one value\.",
        ),
        (
            ["--faults", "neuron_dead", "--fault-option", "neuron_dead.layers=5"],
            r"fault option neuron_dead.layers: fault layers \[5\] do not exist; this network has weight layers 0 to 1\.",
        ),
    ],
)
def test_bad_fault_option_exits_2(checkpoint, tmp_path, capsys, extra, message):
    out = tmp_path / "o"
    assert sweep(checkpoint, out, *extra) == 2
    err = capsys.readouterr().err
    assert re.search(message, err), err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize(
    "text, message",
    [
        ("[fault_options.neuron_zombie]\nvalue = 1\n", r"table \[fault_options.neuron_zombie\] in '.*': unknown fault"),
        ("[fault_options]\nneuron_stuck = 0.5\n", r"fault_options.neuron_stuck in '.*' must be a table of fields"),
        ("fault_options = 3\n", r"fault_options in '.*' must be a table, got 3"),
        (
            '[fault_options.neuron_stuck]\nvalue = "high"\n',
            r"fault_options.neuron_stuck.value in '.*' must be a finite number, got 'high'; "
            r"for example value = 0.5 under \[fault_options.neuron_stuck\]\.",
        ),
        (
            "[fault_options.neuron_stuck]\nexact = 1\n",
            r"fault_options.neuron_stuck.exact in '.*' must be true or false",
        ),
        (
            "[fault_options.synapse_bitflip_float]\nbits = [7, true]\n",
            r"bits in '.*' must be an integer or a non-empty list of integers or \"none\"",
        ),
        ("[fault_options.neuron_stuck]\nv = 1.0\n", r"fault kind neuron_stuck has no settable field 'v'"),
        (
            "[fault_options.neuron_stuck]\nvalue = 0.5\n",
            r"fault_options.neuron_stuck.value in '.*' sets a field of neuron_stuck, which is not in --faults",
        ),
        (
            'faults = "neuron_parametric"\n[fault_options.neuron_parametric]\ntau_factor = 0\n',
            r"fault_options.neuron_parametric.tau_factor in '.*': tau_factor must be positive, got 0.0",
        ),
    ],
)
def test_bad_toml_fault_options_exit_2(checkpoint, tmp_path, capsys, text, message):
    config = tmp_path / "c.toml"
    config.write_text(text)
    out = tmp_path / "o"
    assert sweep(checkpoint, out, "--config", str(config)) == 2
    err = capsys.readouterr().err
    assert re.search(message, err), err
    assert not out.exists()


def test_config_rejects_unsettable_fields():
    config = CampaignConfig(faults=("neuron_parametric",), fault_options={"neuron_parametric": {"rate": 0.2}})
    with pytest.raises(ValueError, match="'rate' is not a settable field of 'neuron_parametric'"):
        config.validate()
    config = CampaignConfig(faults=("neuron_dead",), fault_options={"neuron_stuck": {"value": 0.5}})
    with pytest.raises(ValueError, match="'neuron_stuck', which is not in faults"):
        config.validate()


def test_resume_compares_fault_options(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "campaign"
    config = CampaignConfig(
        faults=("neuron_parametric",),
        rates=(0.2,),
        masks=2,
        chunk_size=2,
        repair=False,
        fault_options={"neuron_parametric": {"threshold_factor": 1.2}},
    )
    write_campaign_file(folder, config)

    assert main(["sweep", "--resume", str(folder), "--fault-option", "neuron_parametric.threshold_factor=1.3"]) == 2
    err = capsys.readouterr().err
    assert "started with other settings (fault_options.neuron_parametric.threshold_factor)" in err
    assert "fault_options.neuron_parametric.threshold_factor: 1.2 stored, 1.3 requested" in err

    assert main(["sweep", "--resume", str(folder), "--fault-option", "neuron_parametric.tau_factor=2"]) == 2
    assert "fault_options.neuron_parametric.tau_factor: 1.0 stored, 2.0 requested" in capsys.readouterr().err

    # Leaving the options out, repeating them, or giving a field at its default value is no change.
    write_finished_chunks(config, folder)
    summary = {"config": config.to_dict(), "sweep": [], "accuracy_fault_free": 0.5, "critical_neurons": []}
    atomic_write_json(folder / "summary.json", summary)
    for name in OUTPUTS:
        if not (folder / name).exists():
            (folder / name).write_bytes(b"stored output")
    monkeypatch.setattr(pipeline, "prepare_data", lambda *a, **k: pytest.fail("the resume loaded the data set"))
    same = ["--fault-option", "neuron_parametric.threshold_factor=1.2"]
    default = ["--fault-option", "neuron_parametric.tau_factor=1"]
    for extra in ([], same, default):
        assert main(["sweep", "--resume", str(folder), *extra]) == 0, extra
        assert "is complete; nothing to recompute" in capsys.readouterr().out


def test_resume_with_other_bits_rejected(tmp_path, capsys):
    folder = tmp_path / "campaign"
    config = CampaignConfig(
        faults=("synapse_bitflip_fixed",),
        rates=(0.01,),
        masks=2,
        chunk_size=2,
        repair=False,
        fault_options={"synapse_bitflip_fixed": {"int_bits": 2, "frac_bits": 6, "bits": [3]}},
    )
    write_campaign_file(folder, config)
    assert main(["sweep", "--resume", str(folder), "--bits", "5"]) == 2
    assert "fault_options.synapse_bitflip_fixed.bits: [3] stored, [5] requested" in capsys.readouterr().err
    assert main(["sweep", "--resume", str(folder), "--fixed-format", "3.5"]) == 2
    err = capsys.readouterr().err
    assert "fault_options.synapse_bitflip_fixed.frac_bits: 6 stored, 5 requested" in err
    assert "fault_options.synapse_bitflip_fixed.int_bits: 2 stored, 3 requested" in err


def test_no_repair_setup_skips_calibration(checkpoint, monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("sweep_setup(repair=False) prepared repair")

    monkeypatch.setattr(HomeostaticRepair, "calibrate", fail)
    monkeypatch.setattr(pipeline, "repair_stream", fail)
    network, _ = load_checkpoint(checkpoint)
    run = pipeline.RunConfig(steps=4, max_test=8)
    key = jax.random.key(1)
    setup = pipeline.sweep_setup(run, network, pipeline.prepare_data(run), key=key, repair=False)
    assert setup.repair is None
    assert setup.set_points is None
    assert setup.stream is None
    # The mask and bootstrap keys are the ones a setup with repair uses, so accuracies without repair agree.
    _, _, mask_key, bootstrap_key = jax.random.split(key, 4)
    np.testing.assert_array_equal(jax.random.key_data(setup.mask_key), jax.random.key_data(mask_key))
    np.testing.assert_array_equal(jax.random.key_data(setup.bootstrap_key), jax.random.key_data(bootstrap_key))

    with pytest.raises(ValueError, match="has no repair calibration; build it with sweep_setup"):
        run_campaign(CampaignConfig(faults=("neuron_dead",), masks=1, chunk_size=1), None, network, setup)


def test_threshold_factor_changes_sweep_accuracy(checkpoint, tmp_path, monkeypatch):
    monkeypatch.setattr("lifa_jax.cli.sweep._execute", lambda *a, **k: 0)
    faults = []
    for factor in ("0.3", "3"):
        out = tmp_path / f"factor{factor}"
        option = f"neuron_parametric.threshold_factor={factor}"
        assert sweep(checkpoint, out, "--faults", "neuron_parametric", "--no-repair", "--fault-option", option) == 0
        fault = read_campaign_file(out).build_fault("neuron_parametric", 1.0)
        assert fault.threshold_factor == float(factor)
        # As an array the factor is traced, so both faults share one compiled sweep.
        faults.append(eqx.tree_at(lambda f: f.threshold_factor, fault, jnp.asarray(fault.threshold_factor)))

    network, _ = load_checkpoint(checkpoint)
    data = load_digits(max_test=20)
    spikes = encode_batch(RegularEncoder(), jnp.asarray(data.x_test), 8, jax.random.key(1))
    records = run_sweep(network, faults, spikes, jnp.asarray(data.y_test), n_masks=1, key=jax.random.key(2))
    low, high = (float(r["accuracy_no_repair"][0]) for r in records)
    assert low != high


@pytest.mark.slow
def test_cli_threshold_factor_changes_accuracy(checkpoint, tmp_path, monkeypatch):
    # A --no-repair campaign never calibrates repair; the sensitivity map is replaced by zeros to save time.
    def fail(*args, **kwargs):
        raise AssertionError("a campaign without repair calibrated repair")

    monkeypatch.setattr(HomeostaticRepair, "calibrate", fail)
    monkeypatch.setattr(
        lifa_jax.faults,
        "sensitivity_map",
        lambda network, spikes, labels: (None, [jnp.zeros(n) for n in network.topology[1:-1]]),
    )
    accuracies = []
    for factor in ("0.3", "3"):
        out = tmp_path / f"factor{factor}"
        option = f"neuron_parametric.threshold_factor={factor}"
        assert sweep(checkpoint, out, "--faults", "neuron_parametric", "--no-repair", "--fault-option", option) == 0
        summary = json.loads((out / "summary.json").read_text())
        assert summary["config"]["fault_options"] == {"neuron_parametric": {"threshold_factor": float(factor)}}
        assert summary["sweep"][0]["ft_repair"] is None
        accuracies.append(summary["sweep"][0]["accuracy_no_repair"]["mean"])
    assert accuracies[0] != accuracies[1]
