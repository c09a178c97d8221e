"""Differential (concurrent) fault simulation against the dense path."""

import dataclasses
import json

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lifa_jax.campaign import CampaignConfig, config_differences
from lifa_jax.cli import main
from lifa_jax.faults import (
    STATUS_DENSE_FALLBACK,
    STATUS_NONFINITE_WEIGHTS,
    STATUS_OVERFLOW,
    Dense,
    Differential,
    NeuronDead,
    SynapseBitFlipFixed,
    SynapseBitFlipFloat,
    SynapseDead,
    SynapseSaturated,
    Transient,
    describe_status,
    differential_accuracy,
    differential_run,
    draw_faults,
    draw_sparse_faults,
    evaluate_mask,
    golden_run,
    run_sweep,
    sparse_fault_capacity,
    suggest_capacity,
    sweep_differential,
    sweep_masks,
    to_network_faults,
)
from lifa_jax.faults.differential import _nonzero_indices
from lifa_jax.network import RegularEncoder, SpikingNetwork, predict, simulate
from lifa_jax.training import encode_batch

N_MASKS = 8


@pytest.fixture(scope="module")
def net():
    return SpikingNetwork.init([16, 24, 12, 4], key=jax.random.key(0), domain_size=5)


@pytest.fixture(scope="module")
def spikes(net):
    x = jax.random.uniform(jax.random.key(1), (8, 16))
    return encode_batch(RegularEncoder(), x, 10, jax.random.key(2))


def dense_spikes_and_predictions(net, spikes, faults):
    """Return the dense path's spikes per layer `(samples, steps, n)` and predictions."""
    results = jax.vmap(lambda s: simulate(net, s, faults=faults, record=True))(spikes)
    return results.trace.spikes, jax.vmap(predict)(results)


@eqx.filter_jit
def compare_masks(net, spikes, fault, keys, capacities):
    """Draw one sparse mask per key and run it on the differential path (once per capacity) and the dense path.

    Everything runs in one compiled function, to keep compilation time down.
    """
    golden = golden_run(net, spikes)
    golden_dense = dense_spikes_and_predictions(net, spikes, net.no_faults())

    def one(key):
        sparse = draw_sparse_faults(net, fault, key=key)
        dense, predictions = dense_spikes_and_predictions(net, spikes, to_network_faults(net, sparse))
        runs = []
        for capacity in capacities:
            run = differential_run(net, golden, sparse, capacity=capacity)
            differing = jnp.stack([jnp.sum(a != b) for a, b in zip(run.spikes, dense)])
            runs.append((differing, jnp.all(run.predictions == predictions), run.status, run.changed_spikes))
        return sparse, runs, jnp.mean(predictions == golden.predictions)

    sparse, runs, dense_accuracy = jax.vmap(one)(keys)
    return golden, golden_dense, sparse, runs, dense_accuracy


def check_against_dense(runs):
    """Assert the documented agreement: identical spikes on most masks, identical predictions on all."""
    for differing, same_predictions, status, _ in runs:
        assert int(jnp.sum(jnp.all(differing == 0, axis=1))) >= N_MASKS - 1
        assert bool(jnp.all(same_predictions))
        np.testing.assert_array_equal(status, 0)


@pytest.fixture(scope="module")
def bitflips(net, spikes):
    fault = SynapseBitFlipFixed(0.004)
    keys = jax.random.split(jax.random.key(4), N_MASKS)
    return fault, compare_masks(net, spikes, fault, keys, (256,))


def test_golden_run_matches_simulate(net, spikes, bitflips):
    golden, (dense, predictions), _, _, _ = bitflips[1]
    np.testing.assert_array_equal(golden.spikes[0], jnp.swapaxes(spikes, 0, 1))
    for layer in range(1, len(net.weights)):
        np.testing.assert_array_equal(golden.spikes[layer], jnp.swapaxes(dense[layer - 1], 0, 1))
    np.testing.assert_array_equal(golden.predictions, predictions)
    assert golden.steps == 10
    assert golden.samples == 8


def test_bitflip_spikes_match_dense(bitflips):
    _, _, _, runs, _ = bitflips[1]
    check_against_dense(runs)
    changed = runs[0][3]
    # The flips must disturb spikes, or the comparison would prove nothing.
    assert int(changed.sum()) > 0


def test_exact_flip_count(net, bitflips):
    fault, (_, _, sparse, _, _) = bitflips
    expected = int(np.floor(0.004 * sum(w.size for w in net.weights) * 8 + 1e-6))
    for mask in range(N_MASKS):
        flips = np.asarray(sparse.flips[mask])[np.asarray(sparse.valid[mask])]
        assert int(sparse.count[mask]) == expected
        assert sum(bin(int(w)).count("1") for w in flips) == expected
        assert not bool(sparse.overflow[mask])


@pytest.mark.parametrize("fault_type, bit", [(SynapseBitFlipFixed, 7), (SynapseBitFlipFloat, 30)])
def test_single_bit_count_matches_dense(net, fault_type, bit):
    # 0.0013 * 720 weights = 0.936 flips: bit flips count with floor, so no bit flips, in both engines.
    n_weights = sum(w.size for w in net.weights)
    assert n_weights == 720
    fault = fault_type(0.0013, bits=(bit,))
    assert sparse_fault_capacity(net, fault)[0] == 1
    sparse = draw_sparse_faults(net, fault, key=jax.random.key(3))
    assert int(sparse.count) == 0
    dense = draw_faults(net, fault, key=jax.random.key(3))
    assert sum(int(np.sum(np.asarray(r))) for r in dense.synapse_replaced) == 0
    # One more weight's worth of rate gives one flip in both.
    fault = fault_type(0.0014, bits=(bit,))
    assert int(draw_sparse_faults(net, fault, key=jax.random.key(3)).count) == 1
    dense = draw_faults(net, fault, key=jax.random.key(3))
    assert sum(int(np.sum(np.asarray(r))) for r in dense.synapse_replaced) == 1


def test_entries_are_distinct_and_sorted(net, bitflips):
    _, (_, _, sparse, _, _) = bitflips
    for mask in range(N_MASKS):
        valid = np.asarray(sparse.valid[mask])
        layer, pre, post = (np.asarray(a[mask])[valid] for a in (sparse.layer, sparse.pre, sparse.post))
        flat = [(int(a), int(b), int(c)) for a, b, c in zip(layer, pre, post)]
        assert len(set(flat)) == len(flat)
        assert flat == sorted(flat)
        counts = np.bincount(layer, minlength=3)
        np.testing.assert_array_equal(np.asarray(sparse.layer_count[mask]), counts)
        np.testing.assert_array_equal(
            np.asarray(sparse.layer_start[mask]), np.concatenate([[0], np.cumsum(counts)[:-1]])
        )


@eqx.filter_jit
def bitflip_masks_both_ways(net, fault, sparse):
    """Return `to_network_faults(sparse)` and the mask `SynapseBitFlipFixed.apply` builds from the same flip words."""
    layers = tuple(range(len(net.weights)))
    failed, values = [], []
    for layer, w in enumerate(net.weights):
        mine = sparse.valid & (sparse.layer == layer)
        pre = jnp.where(mine, sparse.pre, w.shape[0])
        mask = jnp.zeros(w.shape, jnp.int32).at[pre, sparse.post].set(sparse.flips.astype(jnp.int32), mode="drop")
        scale = fault.layer_scale(w)
        values.append(fault.dequantize(fault.quantize(w, scale) ^ mask, scale))
        failed.append(mask != 0)
    return to_network_faults(net, sparse), fault._replace(net, net.no_faults(), layers, failed, values)


def test_sparse_to_dense_bitflip_semantics(net, bitflips):
    fault, (_, _, batch, _, _) = bitflips
    sparse = jax.tree.map(lambda a: a[0], batch)
    converted, expected = bitflip_masks_both_ways(net, fault, sparse)
    for layer in range(len(net.weights)):
        np.testing.assert_array_equal(converted.synapse_replaced[layer], expected.synapse_replaced[layer])
        replaced = np.asarray(expected.synapse_replaced[layer]) > 0
        np.testing.assert_array_equal(
            np.asarray(converted.synapse_value[layer])[replaced], np.asarray(expected.synapse_value[layer])[replaced]
        )
    assert int(sum(r.sum() for r in converted.synapse_replaced)) > 0


@pytest.mark.slow
def test_dense_hidden_layers_match_dense(net, spikes):
    keys = jax.random.split(jax.random.key(4), N_MASKS)
    _, _, _, runs, _ = compare_masks(net, spikes, SynapseBitFlipFixed(0.004), keys, ((None, 256), None))
    check_against_dense(runs)


@pytest.mark.slow
@pytest.mark.parametrize(
    "fault",
    [SynapseDead(0.05), SynapseSaturated(0.02, sign=0), SynapseBitFlipFloat(0.002, bits=tuple(range(23)))],
    ids=["dead", "saturated", "bitflip_float_mantissa"],
)
def test_other_kinds_match_dense(net, spikes, fault):
    keys = jax.random.split(jax.random.key(5), N_MASKS)
    _, _, _, runs, _ = compare_masks(net, spikes, fault, keys, (256,))
    check_against_dense(runs)
    if not isinstance(fault, SynapseBitFlipFloat):
        assert int(runs[0][3].sum()) > 0


@pytest.mark.slow
def test_empty_mask_reproduces_golden(net, spikes):
    golden = golden_run(net, spikes)
    sparse = draw_sparse_faults(net, SynapseDead(0.0), key=jax.random.key(3))
    run = differential_run(net, golden, sparse, capacity=256)
    assert int(sparse.valid.sum()) == 0
    for layer in range(1, len(net.weights)):
        np.testing.assert_array_equal(run.spikes[layer - 1], jnp.swapaxes(golden.spikes[layer], 0, 1))
    np.testing.assert_array_equal(run.changed_spikes, 0)
    assert int(run.status) == 0


class CompileCounter:
    """Count XLA compilations while active (through `jax.monitoring` duration events)."""

    def __init__(self):
        self.count = 0

    def __call__(self, event, duration, **kwargs):
        if "backend_compile" in event:
            self.count += 1

    def __enter__(self):
        jax.monitoring.register_event_duration_secs_listener(self)
        return self

    def __exit__(self, *exc):
        jax.monitoring.unregister_event_duration_listener(self)


def test_overflow_falls_back_to_dense(net, spikes, bitflips):
    fault, (golden, _, _, runs, dense_accuracy) = bitflips
    labels = golden.predictions
    # A capacity (at most one scatter block, so not rounded up) that some masks exceed.
    largest = np.asarray(runs[0][3]).max(axis=1)
    capacity = int(np.median(largest))
    overflowing = largest > capacity
    assert capacity <= 128
    assert 0 < int(overflowing.sum()) < N_MASKS

    # run_sweep splits key 4 into the keys of the `bitflips` masks.
    sweep = dict(n_masks=N_MASKS, key=jax.random.key(4), chunk_size=2, engine=Differential(capacity=capacity))
    (record,) = run_sweep(net, [fault], spikes, labels, **sweep)
    status = record["status"]
    np.testing.assert_array_equal(status & STATUS_OVERFLOW > 0, overflowing)
    np.testing.assert_array_equal(status & STATUS_DENSE_FALLBACK > 0, overflowing)
    # Fixed-point flips keep weights and membranes finite, so the dense path's status is 0.
    # Besides the engine's own flags, every mask has that status and the dense path's accuracy.
    np.testing.assert_array_equal(status & ~(STATUS_OVERFLOW | STATUS_DENSE_FALLBACK), 0)
    np.testing.assert_array_equal(record["accuracy_no_repair"], dense_accuracy)
    assert np.all(np.isnan(record["accuracy_repair"]))

    with CompileCounter() as compiles:
        (again,) = run_sweep(net, [fault], spikes, labels, **sweep)
    assert compiles.count == 0
    np.testing.assert_array_equal(again["accuracy_no_repair"], record["accuracy_no_repair"])


@pytest.mark.slow
@pytest.mark.parametrize(
    "fault",
    [SynapseBitFlipFixed(0.004), SynapseDead(0.05), SynapseSaturated(0.02, sign=0)],
    ids=["bitflip_fixed", "dead", "saturated"],
)
def test_engines_agree_on_same_masks(net, spikes, fault):
    keys = jax.random.split(jax.random.key(6), N_MASKS)
    labels = jnp.zeros((spikes.shape[0],), jnp.int32)
    result = eqx.filter_jit(sweep_masks)(net, fault, keys, spikes, labels, chunk_size=4, engine=Differential())
    dense = jax.vmap(
        lambda k: evaluate_mask(
            net, to_network_faults(net, draw_sparse_faults(net, fault, key=k)), spikes, labels, None, None, None
        )
    )(keys)
    np.testing.assert_array_equal(result.accuracy_no_repair, dense.accuracy_no_repair)
    np.testing.assert_array_equal(result.status, dense.status)


def test_differential_engine_rejects_unsupported(net, spikes):
    keys = jax.random.split(jax.random.key(0), 2)
    labels = jnp.zeros((spikes.shape[0],), jnp.int32)
    engine = Differential(capacity=64)
    with pytest.raises(ValueError, match="does not support fault kind 'neuron_dead' \\(NeuronDead\\); it supports"):
        sweep_masks(net, NeuronDead(0.1), keys, spikes, labels, engine=engine)
    with pytest.raises(ValueError, match="does not support transient faults \\('synapse_dead_transient'\\)"):
        sweep_masks(net, Transient(SynapseDead(0.1)), keys, spikes, labels, engine=engine)
    with pytest.raises(ValueError, match="does not support 'synapse_dead' restricted by `among`"):
        among = (jnp.ones((16, 24), bool),)
        sweep_masks(net, SynapseDead(0.1, among=among, layers=(0,)), keys, spikes, labels, engine=engine)
    with pytest.raises(ValueError, match="does not evaluate repair"):
        run_sweep(
            net,
            [SynapseDead(0.1)],
            spikes,
            labels,
            n_masks=2,
            key=keys[0],
            repair=object(),
            engine=engine,
            set_points=object(),
            adapt_spikes=spikes,
        )
    with pytest.raises(ValueError, match="capacity must be None, a positive int"):
        Differential(capacity=(64, 0))
    # The dense engine accepts every kind; a check costs nothing.
    Dense().check(NeuronDead(0.1), repair=True, sharded=True)


def test_campaign_config_records_engine():
    config = CampaignConfig(
        faults=("synapse_dead",), repair=False, engine="differential", engine_options={"capacity": [512, None]}
    )
    config.validate()
    stored = json.loads(json.dumps(config.to_dict()))
    assert stored["engine"] == "differential"
    assert stored["engine_options"] == {"capacity": [512, None]}
    assert CampaignConfig.from_dict(stored).build_engine() == Differential(capacity=(512, None))
    dense = CampaignConfig(faults=("synapse_dead",), repair=False)
    assert config_differences(stored, dense.to_dict()) == ["engine", "engine_options.capacity"]
    with pytest.raises(ValueError, match="does not support fault kind 'neuron_dead'"):
        CampaignConfig(faults=("neuron_dead",), repair=False, engine="differential").validate()
    with pytest.raises(ValueError, match="unknown engine 'sparse'; use one of: dense, differential"):
        CampaignConfig(engine="sparse").validate()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from lifa_jax.io import save_checkpoint

    path = tmp_path_factory.mktemp("model") / "model.eqx"
    save_checkpoint(path, SpikingNetwork.init([64, 24, 10], key=jax.random.key(0), domain_size=8))
    return path


def cli_sweep(checkpoint, out, *extra):
    args = ["sweep", "--checkpoint", str(checkpoint), "--rates", "0.01", "--masks", "4", "--chunk-size", "2"]
    return main([*args, "--max-test", "30", "--out", str(out), *extra])


@pytest.mark.parametrize(
    "extra, message",
    [
        (
            ["--engine", "differential", "--no-repair", "--faults", "synapse_dead,neuron_dead"],
            "--engine differential does not support fault kind 'neuron_dead'; it supports synapse_dead",
        ),
        (["--engine", "differential", "--faults", "synapse_dead"], "does not evaluate repair; add --no-repair"),
        (
            ["--faults", "synapse_dead", "--capacity", "64"],
            "--capacity applies only to the differential engine, but --engine is",
        ),
        (
            ["--engine", "differential", "--no-repair", "--faults", "synapse_dead", "--capacity", "0"],
            "--capacity must be a positive integer or 'none'",
        ),
        (
            ["--engine", "differential", "--no-repair", "--faults", "synapse_dead", "--capacity", "64,64"],
            "--capacity gives 2 values but the network \\[64, 24, 10\\] has 1 hidden layers",
        ),
        (
            ["--engine", "differential", "--no-repair", "--faults", "synapse_dead", "--rates", "0.9"],
            "fault kind 'synapse_dead': rate 0.9 fails",
        ),
    ],
    ids=["kind", "repair", "capacity_dense", "capacity_zero", "capacity_layers", "rate"],
)
def test_cli_engine_bad_input(checkpoint, tmp_path, capsys, extra, message):
    import re

    out = tmp_path / "o"
    code = cli_sweep(checkpoint, out, *extra)
    err = capsys.readouterr().err
    assert code == 2
    assert re.search(message, err), err
    assert not out.exists()


def test_cli_resume_other_engine_rejected(checkpoint, tmp_path, capsys):
    out = tmp_path / "c"
    out.mkdir()
    config = CampaignConfig(
        faults=("synapse_dead",),
        rates=(0.01,),
        masks=4,
        chunk_size=2,
        repair=False,
        checkpoint=str(checkpoint),
        engine="differential",
    )
    (out / "campaign.json").write_text(json.dumps({"schema_version": 1, "config": config.to_dict()}))
    code = main(["sweep", "--resume", str(out), "--engine", "dense"])
    err = capsys.readouterr().err
    assert code == 2
    assert "started with other settings (engine)" in err

    # A neuron-fault campaign resumed with the event engine: the engine's own fix (drop the kind) does not apply.
    config = dataclasses.replace(config, faults=("neuron_dead",), engine="dense")
    (out / "campaign.json").write_text(json.dumps({"schema_version": 1, "config": config.to_dict()}))
    code = main(["sweep", "--resume", str(out), "--engine", "event"])
    err = capsys.readouterr().err
    assert code == 2
    assert "engine: 'dense' stored, 'event' requested. Resume without changing it" in err
    assert "remove the kind" not in err


@pytest.mark.slow
def test_cli_differential_campaign_resumes(checkpoint, tmp_path, capsys):
    out = tmp_path / "run"
    extra = ["--engine", "differential", "--capacity", "none", "--no-repair", "--faults", "synapse_bitflip_fixed"]
    assert cli_sweep(checkpoint, out, *extra) == 0
    stored = json.loads((out / "campaign.json").read_text())["config"]
    assert stored["engine"] == "differential"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["sweep"][0]["masks"] == 4
    assert main(["sweep", "--resume", str(out)]) == 0


@pytest.mark.slow
def test_overflowing_mask_is_flagged_nan(net, bitflips):
    fault, (golden, _, batch, runs, _) = bitflips
    largest = np.asarray(runs[0][3]).max(axis=1)
    mask = int(np.argmax(largest))
    sparse = jax.tree.map(lambda a: a[mask], batch)
    result = differential_accuracy(net, golden, sparse, golden.predictions, capacity=int(largest[mask]) - 1)
    assert int(result.status) & STATUS_OVERFLOW
    assert bool(jnp.isnan(result.accuracy))


@pytest.mark.slow
def test_nonfinite_weights_fall_back(net, spikes):
    # Bit 30 turns a float32 weight of 1.0 into +inf.
    net_ones = eqx.tree_at(lambda n: n.weights, net, tuple(jnp.ones_like(w) for w in net.weights))
    golden = golden_run(net_ones, spikes)
    fault = SynapseBitFlipFloat(0.02, bits=(30,))
    keys = jax.random.split(jax.random.key(8), 2)
    labels = golden.predictions
    sparse = draw_sparse_faults(net_ones, fault, key=keys[0])
    assert bool(jnp.any(jnp.isinf(sparse.value) & sparse.valid))
    result = differential_accuracy(net_ones, golden, sparse, labels, capacity=256)
    assert int(result.status) & STATUS_NONFINITE_WEIGHTS

    swept = sweep_differential(net_ones, fault, keys, spikes, labels, capacity=256, chunk_size=2)
    assert int(swept.status[0]) & STATUS_DENSE_FALLBACK
    assert int(swept.status[0]) & STATUS_NONFINITE_WEIGHTS
    dense = evaluate_mask(net_ones, to_network_faults(net_ones, sparse), spikes, labels, None, None, None)
    assert float(swept.accuracy_no_repair[0]) == float(dense.accuracy_no_repair)


@pytest.mark.slow
@pytest.mark.parametrize("rate, bits", [(0.0, None), (0.001, None), (0.01, (0, 7)), (0.2, (3,))])
def test_exact_flip_count_rates(net, rate, bits):
    fault = SynapseBitFlipFixed(rate, bits=bits)
    n_positions = sum(w.size for w in net.weights) * (8 if bits is None else len(bits))
    expected = int(np.floor(rate * n_positions + 1e-6))
    sparse = draw_sparse_faults(net, fault, key=jax.random.key(9))
    flips = np.asarray(sparse.flips)[np.asarray(sparse.valid)]
    assert int(sparse.count) == expected
    assert sum(bin(int(w)).count("1") for w in flips) == expected
    assert not bool(sparse.overflow)
    if bits is not None:
        allowed = sum(1 << b for b in bits)
        assert all(int(w) & ~allowed == 0 for w in flips)


@pytest.mark.slow
def test_same_key_same_mask_any_capacity(net):
    fault = SynapseBitFlipFixed(0.004)
    sizes = sparse_fault_capacity(net, fault)
    small = draw_sparse_faults(net, fault, key=jax.random.key(12))
    large = draw_sparse_faults(net, fault, key=jax.random.key(12), capacity=(3 * sizes[0], sizes[1]))
    again = draw_sparse_faults(net, fault, key=jax.random.key(12))
    n = int(small.valid.sum())
    assert int(large.valid.sum()) == n
    for field in ("layer", "pre", "post", "value", "flips"):
        np.testing.assert_array_equal(getattr(small, field)[:n], getattr(large, field)[:n])
        np.testing.assert_array_equal(getattr(small, field), getattr(again, field))


@pytest.mark.slow
def test_bernoulli_counts_vary_around_rate(net):
    fault = SynapseDead(0.05, exact=False)
    keys = jax.random.split(jax.random.key(13), 64)
    counts = np.asarray(jax.vmap(lambda k: draw_sparse_faults(net, fault, key=k).count)(keys))
    n = sum(w.size for w in net.weights)
    assert len(np.unique(counts)) > 1
    # 64 binomial(n, 0.05) counts: the mean's standard error is about 0.6.
    assert abs(counts.mean() - 0.05 * n) < 4.0


def test_nonzero_indices_match_jnp_nonzero():
    find = jax.jit(_nonzero_indices, static_argnums=1)
    for density in (0.0, 0.01, 0.5):
        values = jnp.where(jax.random.uniform(jax.random.key(1), (1000,)) < density, -1.0, 0.0)
        index, count = find(values, 64)
        (expected,) = jnp.nonzero(values, size=64)
        k = min(int(count), 64)
        assert int(count) == int((values != 0).sum())
        np.testing.assert_array_equal(index[:k], expected[:k])
        assert bool(jnp.all(jnp.diff(index) >= 0))


def test_suggest_capacity(net, bitflips):
    golden = bitflips[1][0]
    # Hidden layers hold 8 * 10 * 24 = 1920 and 8 * 10 * 12 = 960 spike slots.
    assert suggest_capacity(jnp.asarray([[10, 20], [30, 5]]), net, golden, dense_above=0.5) == (128, 128)
    assert suggest_capacity(jnp.asarray([[100, 20]]), net, golden, dense_above=0.05) == (None, None)


def test_unsupported_inputs_raise(net, spikes):
    with pytest.raises(NotImplementedError, match="supports synapse faults .* not NeuronDead"):
        draw_sparse_faults(net, NeuronDead(0.1), key=jax.random.key(0))
    with pytest.raises(NotImplementedError, match="restricted by `among`"):
        sparse_fault_capacity(net, SynapseDead(0.1, among=(jnp.ones((16, 24), bool),), layers=(0,)))
    with pytest.raises(ValueError, match="the sparse path is for sparse faults"):
        sparse_fault_capacity(net, SynapseDead(0.9))
    with pytest.raises(
        ValueError, match=r"capacity must be a positive int, None, or one of those per hidden layer \(2"
    ):
        differential_run(net, None, None, capacity=(10,))
    with pytest.raises(ValueError, match=r"spikes must have shape \(samples, steps, 16\)"):
        golden_run(net, spikes[0])
    keys = jax.random.split(jax.random.key(0), 2)
    with pytest.raises(ValueError, match="chunk_size must be at least 1"):
        sweep_differential(net, SynapseDead(0.01), keys, spikes, jnp.zeros(8, int), capacity=8, chunk_size=0)


def test_describe_status_names_differential_flags():
    assert describe_status(STATUS_OVERFLOW) == [
        "a buffer of the differential engine overflowed (faulty synapses or changed spikes)"
    ]
    assert describe_status(STATUS_DENSE_FALLBACK | STATUS_OVERFLOW | STATUS_NONFINITE_WEIGHTS) == [
        "the mask holds infinite or NaN weights",
        "a buffer of the differential engine overflowed (faulty synapses or changed spikes)",
        "the differential or event-driven engine evaluated the mask with the dense path",
    ]
    assert describe_status(0) == []
