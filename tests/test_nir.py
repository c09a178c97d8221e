"""NIR export and import: round trips, hand-built graphs and the errors for what NIR cannot hold."""

import json

import equinox as eqx
import jax
import jax.numpy as jnp
import nir
import numpy as np
import pytest

from lifa_jax.dynamics import LIF, LIFA, Gliotransmitter, SubtractReset, TripartiteCoupling
from lifa_jax.interop import export_nir, import_nir, nir_sidecar, sidecar_path
from lifa_jax.network import RegularEncoder, SpikingNetwork, simulate


def _network(**kwargs):
    options = {
        "key": jax.random.key(3),
        "domain_size": 4,
        "neuron": LIF(tau_n=15.0, t_ref=2.0, reset=SubtractReset()),
        "astrocyte": LIFA(tau_c=500.0, kappa_c=40.0),
        "gliotransmitter": Gliotransmitter(tau_g=300.0, delta_g=150.0),
        "coupling": TripartiteCoupling(alpha=0.3),
    }
    options.update(kwargs)
    return SpikingNetwork.init([6, 9, 3], **options)


def _spikes(steps=200):
    return RegularEncoder(max_rate=1000.0)(jnp.linspace(0.2, 1, 6), steps)


# Networks of one structure share a compilation: every simulation here records its trace.
_simulate = eqx.filter_jit(simulate)


def _counts(network, spikes):
    return [np.asarray(c) for c in _simulate(network, spikes, record=True).counts]


def _foreign_graph(w1, w2, tau=20.0, bias=None):
    """Build the chain a PyTorch-style exporter writes: Input -> Affine -> LIF -> Affine -> LIF -> Output."""

    def lif(n, tau_value=tau):
        return nir.LIF(
            tau=np.full(n, tau_value),
            r=np.full(n, 2.0),
            v_leak=np.zeros(n),
            v_threshold=np.full(n, 1.0),
            v_reset=np.zeros(n),
        )

    b1 = np.zeros(w1.shape[0]) if bias is None else bias
    return nir.NIRGraph.from_list(
        nir.Affine(weight=w1, bias=b1),
        lif(w1.shape[0]),
        nir.Affine(weight=w2, bias=np.zeros(w2.shape[0])),
        lif(w2.shape[0]),
    )


def test_file_round_trip_gives_identical_counts(tmp_path):
    network = _network()
    export_nir(network, tmp_path / "model.nir")
    assert sidecar_path(tmp_path / "model.nir").is_file()
    loaded = import_nir(tmp_path / "model.nir")

    spikes = _spikes()
    trace = _simulate(network, spikes, record=True).trace
    assert float(trace.releases[0].sum()) > 0  # the astrocytes take part in the run
    for expected, got in zip(_counts(network, spikes), _counts(loaded, spikes)):
        np.testing.assert_array_equal(expected, got)
    for expected, got in zip(network.weights, loaded.weights):
        np.testing.assert_array_equal(expected, got)
    assert isinstance(loaded.neuron.reset, SubtractReset)
    assert loaded.neuron.t_ref == 2.0
    assert loaded.n_astrocytes == network.n_astrocytes


def test_in_memory_round_trip_with_sidecar_dict():
    network = _network(dt=0.5)
    graph = export_nir(network)
    loaded = import_nir(graph, sidecar=nir_sidecar(network))
    assert loaded.dt == 0.5
    assert float(loaded.coupling.alpha) == 0.3
    spikes = _spikes()
    for expected, got in zip(_counts(network, spikes), _counts(loaded, spikes)):
        np.testing.assert_array_equal(expected, got)


def test_export_layout_and_metadata(tmp_path):
    network = _network()
    graph = export_nir(network, tmp_path / "model.nir")
    assert list(graph.edges) == [
        ("input", "linear1"),
        ("linear1", "lif1"),
        ("lif1", "linear2"),
        ("linear2", "lif2"),
        ("lif2", "output"),
    ]
    np.testing.assert_array_equal(graph.nodes["linear1"].weight, np.asarray(network.weights[0]).T)
    np.testing.assert_array_equal(graph.nodes["lif2"].tau, np.full(3, 15.0))
    assert graph.metadata["sidecar"] == "model.astrocytes.json"
    sidecar = json.loads(sidecar_path(tmp_path / "model.nir").read_text())
    assert sidecar["neuron"] == {"t_ref": 2.0, "reset": "subtract"}
    assert sidecar["coupling"]["alpha"] == 0.3
    assert sidecar["graph"] == "model.nir"


def test_hand_built_graph_weights_and_tau():
    w1 = np.arange(12, dtype=np.float32).reshape(4, 3) / 10.0  # (out, in): 3 inputs, 4 neurons
    w2 = np.arange(8, dtype=np.float32).reshape(2, 4) / 10.0
    network = import_nir(_foreign_graph(w1, w2, tau=12.5), dt=0.25)

    assert network.topology == (3, 4, 2)
    np.testing.assert_array_equal(network.weights[0], w1.T)
    np.testing.assert_array_equal(network.weights[1], w2.T)
    assert network.neuron.tau_n == 12.5
    assert network.neuron.resistance == 2.0
    assert network.neuron.t_ref == 0.0
    assert network.dt == 0.25
    assert network.n_astrocytes == (0, 0)
    assert float(network.coupling.alpha) == 0.0


def test_imported_membrane_follows_nir_lif():
    # One input neuron, one LIF: a single spike through w raises V by R w (1 - e^{-dt/tau}) / dt.
    lif = nir.LIF(
        tau=np.array([20.0]), r=np.array([2.0]), v_leak=np.zeros(1), v_threshold=np.ones(1), v_reset=np.zeros(1)
    )
    graph = nir.NIRGraph.from_list(nir.Linear(weight=np.array([[0.3]], dtype=np.float32)), lif)
    network = import_nir(graph, dt=0.5)
    step = eqx.filter_jit(lambda net, state: net.step(state, jnp.ones((1,)), net.no_faults(), net.unit_gains()))
    state, _ = step(network, network.init_state())
    expected = 2.0 * 0.3 * (1.0 - np.exp(-0.5 / 20.0)) / 0.5
    np.testing.assert_allclose(state.neurons[0].v, [expected], rtol=1e-6)
    np.testing.assert_allclose(expected, 2.0 * 0.3 / 20.0, rtol=0.02)  # NIR's Dirac jump R w / tau


def test_nonzero_bias_names_node():
    w1, w2 = np.ones((4, 3)), np.ones((2, 4))
    with pytest.raises(NotImplementedError, match="'affine' is an Affine with a nonzero bias"):
        import_nir(_foreign_graph(w1, w2, bias=np.full(4, 0.1)))


def test_unsupported_node_names_node_and_type():
    lif = nir.CubaLIF(
        tau_syn=np.full(2, 5.0),
        tau_mem=np.full(2, 20.0),
        r=np.ones(2),
        v_leak=np.zeros(2),
        v_threshold=np.ones(2),
    )
    graph = nir.NIRGraph.from_list(nir.Linear(weight=np.ones((2, 3))), lif)
    with pytest.raises(NotImplementedError, match="'cubalif' has type CubaLIF"):
        import_nir(graph)


def test_per_neuron_tau_rejected():
    graph = _foreign_graph(np.ones((4, 3)), np.ones((2, 4)))
    graph.nodes["lif"].tau = np.array([10.0, 20.0, 20.0, 20.0])
    with pytest.raises(NotImplementedError, match="'lif' has tau that differs between neurons"):
        import_nir(graph)


def test_tau_differing_between_layers_rejected():
    graph = _foreign_graph(np.ones((4, 3)), np.ones((2, 4)))
    graph.nodes["lif_1"].tau = np.full(2, 30.0)
    with pytest.raises(NotImplementedError, match="'lif' and 'lif_1' have different tau"):
        import_nir(graph)


def test_branching_graph_rejected():
    lif = nir.LIF(tau=np.full(2, 20.0), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2))
    nodes = {
        "input": nir.Input(input_type={"input": np.array([3])}),
        "a": nir.Linear(weight=np.ones((2, 3))),
        "b": nir.Linear(weight=np.ones((2, 3))),
        "lif": lif,
        "output": nir.Output(output_type={"output": np.array([2])}),
    }
    edges = [("input", "a"), ("input", "b"), ("a", "lif"), ("b", "lif"), ("lif", "output")]
    with pytest.raises(ValueError, match="'input' feeds 2 nodes"):
        import_nir(nir.NIRGraph(nodes=nodes, edges=edges))


def test_strict_export_rejects_what_nir_cannot_express():
    plain = {"neuron": LIF(t_ref=0.0), "coupling": TripartiteCoupling(alpha=0.0)}
    export_nir(_network(**plain), strict=True)  # a plain LIF network passes
    with pytest.raises(ValueError, match="SubtractReset, which NIR's LIF cannot express"):
        export_nir(_network(neuron=LIF(t_ref=0.0, reset=SubtractReset()), coupling=plain["coupling"]), strict=True)
    with pytest.raises(ValueError, match="t_ref is 2.0 ms"):
        export_nir(_network(neuron=LIF(t_ref=2.0), coupling=plain["coupling"]), strict=True)
    with pytest.raises(ValueError, match="coupling.alpha is 0.3"):
        export_nir(_network(neuron=plain["neuron"]), strict=True)


def test_missing_sidecar_and_opt_out(tmp_path):
    network = _network()
    export_nir(network, tmp_path / "model.nir")
    sidecar_path(tmp_path / "model.nir").unlink()
    with pytest.raises(FileNotFoundError, match="names the sidecar 'model.astrocytes.json'"):
        import_nir(tmp_path / "model.nir")
    plain = import_nir(tmp_path / "model.nir", sidecar=False)
    assert plain.n_astrocytes == (0, 0)
    assert plain.neuron.t_ref == 0.0
    with pytest.raises(ValueError, match="names the sidecar"):
        import_nir(export_nir(network, tmp_path / "again.nir"))


def test_sidecar_topology_mismatch():
    network = _network()
    other = SpikingNetwork.init([6, 8, 3], key=jax.random.key(0))
    with pytest.raises(ValueError, match=r"sidecar describes topology \[6, 8, 3\], but the graph has \[6, 9, 3\]"):
        import_nir(export_nir(network), sidecar=nir_sidecar(other))


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="NIR file .* not found"):
        import_nir(tmp_path / "missing.nir")
    (tmp_path / "junk.nir").write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match="is not a readable NIR file"):
        import_nir(tmp_path / "junk.nir")
