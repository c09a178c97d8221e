"""Feed-forward spiking network: shapes, encoders, astrocyte domains, faults, batching."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lifa_jax.dynamics import LIF, TripartiteCoupling
from lifa_jax.network import (
    AbstractPropagation,
    DenseProjection,
    PoissonEncoder,
    RegularEncoder,
    SpikingNetwork,
    contiguous_domains,
    predict,
    simulate,
)


def small_network(**kwargs):
    return SpikingNetwork.init([6, 8, 3], key=jax.random.key(0), domain_size=4, **kwargs)


def test_init_sizes_and_counts():
    net = SpikingNetwork.init([1024, 768, 2048, 512, 100], key=jax.random.key(0), domain_size=64)
    assert net.n_neurons == 4452
    assert net.n_synapses == 3_459_072
    assert [w.shape for w in net.weights] == [
        (1024, 768),
        (768, 2048),
        (2048, 512),
        (512, 100),
    ]
    assert net.n_astrocytes == (12, 32, 8, 2)


def test_contiguous_domains_blocks():
    np.testing.assert_array_equal(contiguous_domains(7, 3), [0, 0, 0, 1, 1, 1, 2])
    with pytest.raises(ValueError, match="domain_size must be at least 1, got 0"):
        contiguous_domains(4, 0)


@pytest.mark.parametrize("topology", [[64], [64, 0, 10], []])
def test_init_rejects_bad_topology(topology):
    with pytest.raises(ValueError, match="topology must list at least two positive layer sizes"):
        SpikingNetwork.init(topology, key=jax.random.key(0))


def test_simulate_rejects_wrong_input_shape():
    net = small_network()
    with pytest.raises(ValueError, match=r"input_spikes must have shape \(steps, 6\)"):
        simulate(net, jnp.zeros((5, 7)))


def test_regular_encoder_counts():
    enc = RegularEncoder(max_rate=500.0, dt=1.0)
    x = jnp.array([0.0, 0.3, 0.5, 1.0])
    spikes = enc(x, 20)
    # floor(T * x * max_rate * dt / 1000) spikes per feature.
    np.testing.assert_array_equal(spikes.sum(axis=0), [0, 3, 5, 10])
    assert set(np.unique(np.asarray(spikes))) <= {0.0, 1.0}


def test_poisson_encoder_key_and_rate():
    enc = PoissonEncoder(max_rate=400.0, dt=1.0)
    x = jnp.full((2000,), 0.5)
    a = enc(x, 50, key=jax.random.key(3))
    b = enc(x, 50, key=jax.random.key(3))
    np.testing.assert_array_equal(a, b)
    # p = 0.2 per step; 100,000 draws give a standard error of about 0.0013.
    assert abs(float(a.mean()) - 0.2) < 0.006
    with pytest.raises(ValueError, match="PoissonEncoder needs a key"):
        enc(x, 5)


def test_encoder_rejects_rate_above_one_per_step():
    with pytest.raises(ValueError, match="exceeds 1"):
        RegularEncoder(max_rate=2000.0, dt=1.0)


def test_vmap_matches_loop():
    net = small_network()
    spikes = RegularEncoder()(jnp.linspace(0.0, 1.0, 6), 15)
    batch = jnp.stack([spikes, spikes[::-1], jnp.roll(spikes, 3, axis=0)])
    batched = jax.vmap(lambda s: simulate(net, s).counts)(batch)
    for i in range(3):
        single = simulate(net, batch[i]).counts
        for layer in range(2):
            np.testing.assert_array_equal(batched[layer][i], single[layer])


def test_dead_neuron_never_spikes():
    net = SpikingNetwork.init([6, 8, 3], key=jax.random.key(0), weight_scale=6.0)
    spikes = RegularEncoder(max_rate=1000.0)(jnp.ones(6), 30)
    healthy = simulate(net, spikes, record=True)
    assert float(healthy.counts[0].sum()) > 0
    faults = net.no_faults()
    alive = faults.neuron_alive[0].at[:].set(0.0).at[1].set(1.0)
    faults = eqx.tree_at(lambda f: f.neuron_alive, faults, (alive, faults.neuron_alive[1]))
    broken = simulate(net, spikes, faults=faults, record=True)
    np.testing.assert_array_equal(np.asarray(broken.trace.spikes[0])[:, [0, 2, 3, 4, 5, 6, 7]], 0.0)


def test_dead_synapses_equal_zeroed_weights():
    net = small_network()
    spikes = RegularEncoder()(jnp.linspace(0.2, 1.0, 6), 20)
    mask = jax.random.bernoulli(jax.random.key(1), 0.6, net.weights[0].shape).astype(jnp.float32)
    faults = eqx.tree_at(
        lambda f: f.synapse_alive,
        net.no_faults(),
        (mask, jnp.ones_like(net.weights[1])),
    )
    zeroed = eqx.tree_at(lambda n: n.weights, net, (net.weights[0] * mask, net.weights[1]))
    a = simulate(net, spikes, faults=faults).counts
    b = simulate(zeroed, spikes).counts
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_alpha_zero_ignores_gliotransmitter():
    # With alpha = 0 the astrocytes still integrate and release, but synapses do not
    # feel them: the network equals one whose astrocytes never release.
    base = small_network(coupling=TripartiteCoupling(alpha=0.0))
    silent = eqx.tree_at(lambda n: n.astrocyte.kappa_c, base, 0.0)
    spikes = RegularEncoder(max_rate=1000.0)(jnp.ones(6), 200)
    a = simulate(base, spikes, record=True)
    b = simulate(silent, spikes)
    assert float(sum(r.sum() for r in a.trace.releases)) > 0
    for x, y in zip(a.counts, b.counts):
        np.testing.assert_array_equal(x, y)


def test_alpha_scales_weights_after_release():
    strong = small_network(coupling=TripartiteCoupling(alpha=1.0))
    off = eqx.tree_at(lambda n: n.coupling.alpha, strong, 0.0)
    spikes = RegularEncoder(max_rate=1000.0)(jnp.ones(6), 300)
    with_glia = simulate(strong, spikes, record=True)
    without = simulate(off, spikes)
    assert float(with_glia.trace.gliotransmitter[0].max()) > 0
    assert float(with_glia.counts[0].sum()) != float(without.counts[0].sum())


class CountingProjection(AbstractPropagation):
    """A gather-based projection: sums the weight rows of the presynaptic neurons that fired."""

    def __call__(self, weights, spikes):
        return jnp.sum(jnp.where(spikes[:, None] > 0, weights, 0.0), axis=0)


def test_propagation_is_replaceable():
    net = small_network()
    other = eqx.tree_at(lambda n: n.propagation, net, CountingProjection())
    spikes = RegularEncoder()(jnp.linspace(0.0, 1.0, 6), 20)
    a = simulate(net, spikes).counts
    b = simulate(other, spikes).counts
    assert isinstance(net.propagation, DenseProjection)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y)


def test_predict_breaks_ties_by_membrane():
    net = small_network()
    result = simulate(net, jnp.zeros((10, 6)))
    result = eqx.tree_at(lambda r: r.output_membrane, result, jnp.array([0.1, 0.7, 0.3]))
    result = eqx.tree_at(lambda r: r.counts, result, (result.counts[0], jnp.array([2.0, 2.0, 1.0])))
    assert int(predict(result)) == 1


def test_second_jitted_call_does_not_recompile():
    net = small_network()
    traces = []

    @jax.jit
    def run(spikes):
        traces.append(None)
        return simulate(net, spikes).counts

    run(jnp.zeros((10, 6)))
    run(jnp.ones((10, 6)))
    assert len(traces) == 1


def test_subtract_reset_keeps_more_spikes_than_zero_reset():
    from lifa_jax.dynamics import SubtractReset

    spikes = RegularEncoder(max_rate=1000.0)(jnp.ones(6), 50)
    zero = SpikingNetwork.init([6, 4], key=jax.random.key(0), weight_scale=8.0, neuron=LIF(t_ref=0.0))
    sub = eqx.tree_at(lambda n: n.neuron.reset, zero, SubtractReset())
    assert float(simulate(sub, spikes).counts[0].sum()) >= float(simulate(zero, spikes).counts[0].sum())


def test_dead_output_neurons_carry_no_information():
    # Dead output neurons never spike, and their still-integrating membranes must not
    # break ties either: with every output neuron dead, every sample is class 0.
    net = SpikingNetwork.init([6, 8, 3], key=jax.random.key(0), weight_scale=6.0)
    faults = net.no_faults()
    faults = eqx.tree_at(lambda f: f.neuron_alive, faults, (faults.neuron_alive[0], jnp.zeros(3)))
    x = jax.random.uniform(jax.random.key(1), (12, 6))
    spikes = jax.vmap(lambda v: RegularEncoder(max_rate=1000.0)(v, 20))(x)
    preds = jax.vmap(lambda s: predict(simulate(net, s, faults=faults)))(spikes)
    np.testing.assert_array_equal(preds, 0)
    healthy = jax.vmap(lambda s: predict(simulate(net, s)))(spikes)
    assert bool(jnp.any(healthy != 0))


def test_init_rejects_neuron_array_of_another_layer_size():
    # One LIF serves every layer: an array of 128 thresholds cannot fit the 10 output neurons.
    with pytest.raises(ValueError, match=r"neuron.v_th has shape \(128,\), which does not fit a layer of 10 units"):
        SpikingNetwork.init([64, 128, 10], key=jax.random.key(0), neuron=LIF(v_th=jnp.ones(128)))
    # Arrays that fit every layer stay allowed.
    net = SpikingNetwork.init([64, 128, 128], key=jax.random.key(0), neuron=LIF(v_th=jnp.ones(128)))
    assert net.neuron.v_th.shape == (128,)
