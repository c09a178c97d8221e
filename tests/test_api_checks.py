"""Python API: argument checks with messages that name the value and the fix, and sweep records as a dataset."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lifa_jax.campaign import load_dataset, save_dataset, sweep_dataset
from lifa_jax.faults import NeuronDead, SynapseDead, fault_from_name, run_sweep, sensitivity_map, sweep_masks
from lifa_jax.metrics import fault_tolerance, mean_ci95
from lifa_jax.network import RegularEncoder, SpikingNetwork
from lifa_jax.repair import HomeostaticRepair
from lifa_jax.training import TrainConfig, encode_batch, evaluate, train


@pytest.fixture(scope="module")
def net():
    return SpikingNetwork.init([12, 20, 4], key=jax.random.key(0), domain_size=5)


@pytest.fixture(scope="module")
def batch(net):
    x = jax.random.uniform(jax.random.key(1), (16, 12))
    spikes = encode_batch(RegularEncoder(), x, 10, jax.random.key(2))
    labels = jnp.arange(16, dtype=jnp.int32) % 4
    return spikes, labels


def sweep(net, batch, faults, **kwargs):
    spikes, labels = batch
    options = {"n_masks": 3, "key": jax.random.key(3), **kwargs}
    return run_sweep(net, faults, spikes, labels, **options)


def test_run_sweep_rejects_names_and_single_faults(net, batch):
    with pytest.raises(ValueError, match=r"got the name 'neuron_dead'.*fault_from_name\('neuron_dead', rate\)"):
        sweep(net, batch, ["neuron_dead"])
    with pytest.raises(ValueError, match=r"got one NeuronDead; pass \[NeuronDead\(...\)\]"):
        sweep(net, batch, NeuronDead(0.2))
    with pytest.raises(ValueError, match="got float"):
        sweep(net, batch, [0.2])


@pytest.mark.parametrize(
    "labels, message",
    [
        (jnp.zeros(15, jnp.int32), r"labels must have shape \(16,\), one class per sample, got \(15,\)"),
        (jnp.zeros((16, 4), jnp.int32), r"not one-hot rows \(use labels.argmax\(-1\)\)"),
        (jnp.zeros(16, jnp.float32), "integer class indices, got dtype float32"),
        (jnp.full(16, 4, jnp.int32), r"must lie in \[0, 4\), the network's 4 outputs, got labels in \[4, 4\]"),
    ],
)
def test_run_sweep_checks_labels(net, batch, labels, message):
    spikes, _ = batch
    with pytest.raises(ValueError, match=message):
        run_sweep(net, [NeuronDead(0.2)], spikes, labels, n_masks=2, key=jax.random.key(0))


@pytest.mark.parametrize("key", [0.5, 3, jnp.zeros(3, jnp.uint32)])
def test_keys_must_be_prng_keys(net, batch, key):
    spikes, labels = batch
    with pytest.raises(ValueError, match=r"key must be one JAX PRNG key, got .*; pass jax.random.key\(seed\)"):
        run_sweep(net, [NeuronDead(0.2)], spikes, labels, n_masks=2, key=key)
    with pytest.raises(ValueError, match="key must be one JAX PRNG key"):
        SpikingNetwork.init([4, 2], key=key)


def test_legacy_keys_still_work():
    a = SpikingNetwork.init([4, 2], key=jax.random.PRNGKey(0))
    b = SpikingNetwork.init([4, 2], key=jax.random.PRNGKey(0))
    assert np.array_equal(a.weights[0], b.weights[0])


def test_foreign_set_points_rejected(net, batch):
    spikes, labels = batch
    other = SpikingNetwork.init([12, 7, 4], key=jax.random.key(0), domain_size=5)
    repair = HomeostaticRepair()
    set_points = repair.calibrate(other, spikes)
    with pytest.raises(ValueError, match=r"layers of \[7, 4\] neurons, but the network has \[20, 4\]"):
        run_sweep(
            net,
            [NeuronDead(0.2)],
            spikes,
            labels,
            n_masks=2,
            key=jax.random.key(0),
            repair=repair,
            set_points=set_points,
            adapt_spikes=spikes,
        )


def test_fault_from_name_lists_the_options():
    with pytest.raises(ValueError, match=r"neuron_dead has no option 'bitz'; its options are: .*exact.*layers"):
        fault_from_name("neuron_dead", 0.1, bitz=[1])
    assert fault_from_name("synapse_bitflip_fixed", 0.1, bits=(7,)).bits == (7,)


def test_sensitivity_map_layers(net, batch):
    spikes, labels = batch
    a_ff, drops = sensitivity_map(net, spikes, labels, layers=[0, 1])
    assert [d.shape for d in drops] == [(20,), (4,)]
    with pytest.raises(ValueError, match=r"layers \[2\] do not exist; use 0 \(first hidden layer\) to 1"):
        sensitivity_map(net, spikes, labels, layers=[2])


def test_train_evaluate_check_data(net):
    x = np.random.default_rng(0).random((8, 12), dtype=np.float32)
    y = np.arange(8, dtype=np.int32) % 4
    config = TrainConfig(epochs=1, batch_size=4, steps=5)
    with pytest.raises(ValueError, match=r"y must have shape \(8,\)"):
        evaluate(net, x, y[:7], steps=5, encoder=RegularEncoder(), key=jax.random.key(0))
    with pytest.raises(ValueError, match=r"x must have shape \(samples, 12\)"):
        evaluate(net, x[:, :10], y, steps=5, encoder=RegularEncoder(), key=jax.random.key(0))
    with pytest.raises(ValueError, match="key must be one JAX PRNG key"):
        train(net, x, y, config, key=7)
    with pytest.raises(ValueError, match=r"y_train must lie in \[0, 4\)"):
        train(net, x, y + 4, config, key=jax.random.key(0))


def test_fault_tolerance_zero_reference_is_nan():
    assert float(fault_tolerance(0.8, 0.4)) == pytest.approx(50.0)
    assert np.isnan(float(fault_tolerance(0.0, 0.5)))
    assert np.isnan(float(fault_tolerance(jnp.zeros(3), jnp.ones(3))))
    assert float(fault_tolerance(jnp.asarray([1.0, 1.0]), jnp.asarray([1.0, 0.0]))) == pytest.approx(50.0)


def test_mean_ci95_needs_a_value():
    with pytest.raises(ValueError, match="at least one value"):
        mean_ci95([])
    assert mean_ci95([0.5]) == {"mean": 0.5, "ci95": None, "n": 1}


def test_sweep_dataset_round_trip(net, batch, tmp_path):
    faults = [NeuronDead(0.1), NeuronDead(0.3), SynapseDead(0.3)]
    records = sweep(net, batch, faults)
    ds = sweep_dataset(records, 0.75)
    assert dict(ds.sizes) == {"fault": 2, "rate": 2, "mask": 3}
    assert list(ds.fault.values) == ["neuron_dead", "synapse_dead"]
    assert list(ds.rate.values) == [0.1, 0.3]
    np.testing.assert_array_equal(
        ds.accuracy_no_repair.sel(fault="neuron_dead", rate=0.3), records[1]["accuracy_no_repair"]
    )
    np.testing.assert_array_equal(ds.status.sel(fault="synapse_dead", rate=0.3), records[2]["status"])
    # SynapseDead was not swept at 0.1: NaN accuracies there.
    assert np.isnan(ds.accuracy_no_repair.sel(fault="synapse_dead", rate=0.1)).all()
    expected_ft = 100.0 * (1.0 - np.abs(0.75 - records[0]["accuracy_no_repair"]) / 0.75)
    np.testing.assert_allclose(ds.ft_no_repair.sel(fault="neuron_dead", rate=0.1), expected_ft, rtol=1e-6)
    # Without repair the repair accuracies are NaN, as run_sweep returns them.
    assert np.isnan(ds.accuracy_repair).all()
    save_dataset(ds, tmp_path / "sweep.nc")
    assert load_dataset(tmp_path).identical(ds)


def test_sweep_dataset_rejects_bad_records(net, batch):
    records = sweep(net, batch, [NeuronDead(0.1)])
    with pytest.raises(ValueError, match="records is empty"):
        sweep_dataset([], 0.5)
    with pytest.raises(ValueError, match="two records share fault 'neuron_dead' and rate 0.1"):
        sweep_dataset(records + records, 0.5)
    other = sweep(net, batch, [NeuronDead(0.3)], n_masks=2)
    with pytest.raises(ValueError, match=r"different numbers of masks \(\[2, 3\]\)"):
        sweep_dataset(records + other, 0.5)
    for bad in (float("nan"), 0.0, 1.5, "0.9"):
        with pytest.raises(ValueError, match=r"accuracy_fault_free must be an accuracy in \(0, 1\], got"):
            sweep_dataset(records, bad)
    assert sweep_dataset(records, jnp.asarray(0.5)).attrs["accuracy_fault_free"] == 0.5


def test_run_sweep_checks_its_other_arguments(net, batch):
    spikes, labels = batch
    with pytest.raises(ValueError, match=r"fault_from_spec\('neuron_dead\+astrocyte_dead@0.5', rate\)"):
        sweep(net, batch, ["neuron_dead+astrocyte_dead@0.5"])
    with pytest.raises(ValueError, match="faults is empty"):
        sweep(net, batch, [])
    with pytest.raises(ValueError, match="n_masks must be an integer of at least 1, got 2.5"):
        run_sweep(net, [NeuronDead(0.1)], spikes, labels, n_masks=2.5, key=jax.random.key(0))
    # Labels as a Python list work as an array does.
    as_list = run_sweep(net, [NeuronDead(0.1)], spikes, [int(v) for v in labels], n_masks=2, key=jax.random.key(0))
    as_array = run_sweep(net, [NeuronDead(0.1)], spikes, labels, n_masks=2, key=jax.random.key(0))
    np.testing.assert_array_equal(as_list[0]["accuracy_no_repair"], as_array[0]["accuracy_no_repair"])


def test_sweep_masks_checks_fault_and_keys(net, batch):
    spikes, labels = batch
    keys = jax.random.split(jax.random.key(0), 2)
    with pytest.raises(ValueError, match="keys must be a 1-D array of JAX PRNG keys, one per mask"):
        sweep_masks(net, NeuronDead(0.1), jax.random.key(0), spikes, labels)
    with pytest.raises(ValueError, match="keys must be a 1-D array"):
        sweep_masks(net, NeuronDead(0.1), 3, spikes, labels)
    for fault in ("neuron_dead", [NeuronDead(0.1)]):
        with pytest.raises(ValueError, match="fault must be one fault such as NeuronDead"):
            sweep_masks(net, fault, keys, spikes, labels)
    assert sweep_masks(net, NeuronDead(0.1), keys, spikes, labels).status.shape == (2,)


@pytest.mark.parametrize("topology", [[64, 16.5, 10], "64-16-10", [64, True, 10]])
def test_init_rejects_non_integer_topologies(topology):
    with pytest.raises(ValueError, match="topology must be a list of integer layer sizes"):
        SpikingNetwork.init(topology, key=jax.random.key(0))


def test_evaluate_needs_steps(net):
    x = np.zeros((4, 12), np.float32)
    with pytest.raises(ValueError, match="steps"):
        evaluate(net, x, np.zeros(4, np.int32), steps=0, encoder=RegularEncoder(), key=jax.random.key(0))
