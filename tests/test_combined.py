"""Several fault kinds in one mask (`Combined`), in sweeps, campaigns and the CLI."""

import json
import re

import jax
import numpy as np
import pytest

from lifa_jax.campaign import CampaignConfig, load_dataset
from lifa_jax.cli import main
from lifa_jax.faults import (
    AstrocyteDead,
    Combined,
    Dense,
    Differential,
    NeuronDead,
    SynapseDead,
    Transient,
    canonical_fault_spec,
    draw_faults,
    fault_from_spec,
    run_sweep,
    with_rate,
)
from lifa_jax.network import RegularEncoder, SpikingNetwork
from lifa_jax.repair import HomeostaticRepair
from lifa_jax.training import encode_batch


def test_combined_draws_every_component():
    net = SpikingNetwork.init([4, 20, 10, 3], key=jax.random.key(0), domain_size=5)
    fault = Combined(NeuronDead(0.1), AstrocyteDead(0.5), SynapseDead(0.25))
    masks = draw_faults(net, fault, key=jax.random.key(1))
    # Hidden neurons 20 + 10, astrocytes 4 + 2 + 1, weights 80 + 200 + 30.
    assert sum(int((a == 0).sum()) for a in masks.neuron_alive) == 3
    assert sum(int((a == 0).sum()) for a in masks.astrocyte_alive) == round(0.5 * 7)
    assert sum(int((a == 0).sum()) for a in masks.synapse_alive) == round(0.25 * 310)
    assert fault.name == "neuron_dead+astrocyte_dead+synapse_dead"
    again = draw_faults(net, fault, key=jax.random.key(1))
    assert all(np.array_equal(a, b) for a, b in zip(masks.neuron_alive, again.neuron_alive))


def test_with_rate_sets_only_the_swept_components():
    fault = Combined(NeuronDead(0.1), AstrocyteDead(0.5), swept=(0,))
    assert fault.name == "neuron_dead+astrocyte_dead@0.5"
    assert fault.rate == 0.1
    moved = with_rate(fault, 0.3)
    assert [f.rate for f in moved.faults] == [0.3, 0.5]
    assert moved.swept == (0,)
    transient = with_rate(Transient(fault), 0.2)
    assert [f.rate for f in transient.fault.faults] == [0.2, 0.5]


def test_fault_specs():
    fault = fault_from_spec(" neuron_dead + astrocyte_dead@0.50 ", 0.2)
    assert isinstance(fault, Combined)
    assert [f.rate for f in fault.faults] == [0.2, 0.5]
    assert fault.name == canonical_fault_spec(" neuron_dead + astrocyte_dead@0.50 ") == "neuron_dead+astrocyte_dead@0.5"
    assert fault_from_spec("synapse_bitflip_fixed", 0.1, {"synapse_bitflip_fixed": {"bits": (7,)}}).bits == (7,)
    with pytest.raises(ValueError, match=r"unknown fault kind 'astro_dead' in 'neuron_dead\+astro_dead'"):
        fault_from_spec("neuron_dead+astro_dead", 0.1)
    with pytest.raises(ValueError, match=r"fixed rate '1.5' of astrocyte_dead .* must be a number in \[0, 1\]"):
        fault_from_spec("neuron_dead+astrocyte_dead@1.5", 0.1)
    with pytest.raises(ValueError, match="every kind in 'neuron_dead@0.2' has a fixed rate"):
        fault_from_spec("neuron_dead@0.2", 0.1)
    with pytest.raises(ValueError, match=r"repeats \['neuron_dead'\]"):
        fault_from_spec("neuron_dead+neuron_dead@0.1", 0.1)
    with pytest.raises(ValueError, match="at least two faults"):
        Combined(NeuronDead(0.1))
    with pytest.raises(ValueError, match="swept must list distinct component indices in"):
        Combined(NeuronDead(0.1), AstrocyteDead(0.5), swept=(2,))
    with pytest.raises(ValueError, match="transient combination is Transient"):
        Combined(NeuronDead(0.1), Transient(AstrocyteDead(0.5)))


def repair_sweep(faults):
    """Sweep `faults` with homeostatic repair on a small network; return one record per fault."""
    net = SpikingNetwork.init([12, 24, 4], key=jax.random.key(0), domain_size=6)
    x = jax.random.uniform(jax.random.key(1), (40, 12))
    spikes = encode_batch(RegularEncoder(), x, 20, jax.random.key(2))
    labels = jax.numpy.argmax(spikes[:, :, :4].sum(1), -1).astype(jax.numpy.int32)
    repair = HomeostaticRepair(passes=5)
    return run_sweep(
        net,
        faults,
        spikes,
        labels,
        n_masks=6,
        key=jax.random.key(3),
        repair=repair,
        set_points=repair.calibrate(net, spikes),
        adapt_spikes=spikes,
    )


def test_dead_astrocytes_block_repair():
    alone, unrepaired = repair_sweep([NeuronDead(0.3), Combined(NeuronDead(0.3), AstrocyteDead(1.0), swept=(0,))])
    # Repair changes the accuracy under some masks of neuron faults alone...
    assert np.any(alone["accuracy_repair"] != alone["accuracy_no_repair"])
    # ...and under none once every astrocyte is dead: their domains keep gain 1.
    np.testing.assert_array_equal(unrepaired["accuracy_repair"], unrepaired["accuracy_no_repair"])
    assert unrepaired["fault"] == "neuron_dead+astrocyte_dead@1"
    assert unrepaired["rate"] == pytest.approx(0.3)


def test_sparse_engines_reject_combinations():
    fault = Combined(SynapseDead(0.1), AstrocyteDead(0.5))
    Dense().check(fault)
    with pytest.raises(ValueError, match=r"does not support fault kind 'synapse_dead\+astrocyte_dead' \(Combined\)"):
        Differential().check(fault)


def test_campaign_config_with_combinations():
    config = CampaignConfig(
        faults=("neuron_dead+synapse_bitflip_fixed@0.001",),
        fault_options={"synapse_bitflip_fixed": {"bits": [6]}},
    )
    config.validate()
    assert config.kinds() == ("neuron_dead", "synapse_bitflip_fixed")
    fault = config.build_fault(config.faults[0], 0.2)
    assert [f.rate for f in fault.faults] == [0.2, 0.001]
    assert fault.faults[1].bits == (6,)
    assert set(config.resolved_fault_options()) == {"neuron_dead", "synapse_bitflip_fixed"}
    with pytest.raises(ValueError, match=r"--faults: unknown fault kind 'neuron_ded' in 'neuron_ded\+synapse_dead'"):
        CampaignConfig(faults=("neuron_ded+synapse_dead",)).validate()


def test_cli_sweep_of_combined_faults(checkpoint, tmp_path):
    out = tmp_path / "out"
    args = ["sweep", "--checkpoint", str(checkpoint), "--rates", "0,0.3", "--masks", "4", "--chunk-size", "4"]
    args += ["--max-test", "40", "--repair-passes", "2", "--out", str(out)]
    code = main([*args, "--faults", "neuron_dead+astrocyte_dead@1.0,neuron_dead"])
    assert code == 0
    ds = load_dataset(out)
    assert list(ds.fault.values) == ["neuron_dead+astrocyte_dead@1", "neuron_dead"]
    combined = ds.sel(fault="neuron_dead+astrocyte_dead@1")
    np.testing.assert_array_equal(combined.accuracy_repair, combined.accuracy_no_repair)
    summary = json.loads((out / "summary.json").read_text())
    assert {r["fault"] for r in summary["sweep"]} == {"neuron_dead+astrocyte_dead@1", "neuron_dead"}


@pytest.mark.parametrize(
    "faults, message",
    [
        ("neuron_dead+astro_dead", r"--faults: unknown fault kind 'astro_dead' in 'neuron_dead\+astro_dead'"),
        ("neuron_dead+astrocyte_dead@2", r"--faults: fixed rate '2' of astrocyte_dead"),
        ("neuron_dead@0.1", "--faults: every kind in 'neuron_dead@0.1' has a fixed rate"),
    ],
)
def test_cli_rejects_bad_combinations(checkpoint, tmp_path, capsys, faults, message):
    out = tmp_path / "bad"
    code = main(["sweep", "--checkpoint", str(checkpoint), "--faults", faults, "--out", str(out)])
    assert code == 2
    assert re.search(message, capsys.readouterr().err)
    assert not out.exists()


def test_cli_event_engine_rejects_combinations(checkpoint, tmp_path, capsys):
    code = main(
        ["sweep", "--checkpoint", str(checkpoint), "--engine", "event", "--no-repair"]
        + ["--faults", "synapse_dead+astrocyte_dead@0.5", "--out", str(tmp_path / "o")]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "--engine event does not support combined faults 'synapse_dead+astrocyte_dead@0.5'" in err


def test_first_component_matches_single_draw():
    net = SpikingNetwork.init([12, 24, 4], key=jax.random.key(0), domain_size=6)
    for seed in range(3):
        alone = draw_faults(net, NeuronDead(0.3), key=jax.random.key(seed))
        combined = draw_faults(net, Combined(NeuronDead(0.3), AstrocyteDead(1.0)), key=jax.random.key(seed))
        for a, b in zip(alone.neuron_alive, combined.neuron_alive):
            np.testing.assert_array_equal(a, b)
        assert all(int(a.sum()) == 0 for a in combined.astrocyte_alive)


def test_transient_dead_astrocytes_block_repair():
    # A transient mask is redrawn every step, so the gains must be switched off at the steps the astrocyte is dead.
    faults = [Transient(NeuronDead(0.3)), Transient(Combined(NeuronDead(0.3), AstrocyteDead(1.0), swept=(0,)))]
    alone, unrepaired = repair_sweep(faults)
    assert np.any(alone["accuracy_repair"] != alone["accuracy_no_repair"])
    np.testing.assert_array_equal(unrepaired["accuracy_repair"], unrepaired["accuracy_no_repair"])


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: Combined(NeuronDead(0.1), AstrocyteDead(0.5), swept=0), "swept must be a tuple of component indices"),
        (lambda: Combined(NeuronDead(0.1), AstrocyteDead(0.5), swept=(True,)), "swept must be a tuple"),
        (lambda: fault_from_spec(None, 0.2), "a fault specification must be a string"),
        (lambda: fault_from_spec("neuron_dead+", 0.2), r"'neuron_dead\+' has an empty fault kind; join kinds"),
        (lambda: fault_from_spec("neuron_dead", "0.2"), r"fault rate must be a number in \[0, 1\], got '0.2'"),
        (lambda: NeuronDead(None), "fault rate must be a number"),
    ],
)
def test_bad_combinations_in_python(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_resume_with_other_faults_names_only_faults(checkpoint, tmp_path, capsys):
    out = tmp_path / "c"
    args = ["sweep", "--checkpoint", str(checkpoint), "--rates", "0.1", "--masks", "2", "--chunk-size", "2"]
    args += ["--max-test", "30", "--no-repair", "--fault-option", "synapse_bitflip_fixed.bits=7"]
    assert main([*args, "--faults", "synapse_bitflip_fixed+astrocyte_dead@0.5", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["sweep", "--resume", str(out), "--faults", "neuron_dead"]) == 2
    err = capsys.readouterr().err
    assert "started with other settings (faults); faults: 'synapse_bitflip_fixed+astrocyte_dead@0.5' stored" in err
    assert "'neuron_dead' requested" in err
    assert "--bits" not in err
    assert "fault_options" not in err


def test_cli_transient_bit_flips(checkpoint, tmp_path, capsys):
    # The warning about bit-flip rates that flip nothing also reads transient and combined faults.
    out = tmp_path / "t"
    args = ["sweep", "--checkpoint", str(checkpoint), "--rates", "1e-5,1e-3", "--masks", "2", "--chunk-size", "2"]
    args += ["--max-test", "20", "--no-repair", "--no-sensitivity", "--transient", "--out", str(out)]
    assert main([*args, "--faults", "neuron_dead+synapse_bitflip_fixed@1e-5,synapse_bitflip_fixed"]) == 0
    err = capsys.readouterr().err
    # 1e-5 x 14,208 bit positions (1,776 weights x 8 bits) floors to 0 flips: one warning per kind and rate, fixed rates included.
    assert err.count("warning: synapse_bitflip_fixed at rate 1e-05 flips floor(1e-05 x 14208) = 0 bits") == 1
    ds = load_dataset(out)
    assert list(ds.fault.values) == [
        "neuron_dead+synapse_bitflip_fixed@1e-05",
        "synapse_bitflip_fixed",
    ]
