r"""Exchange spiking networks with other tools through NIR (Neuromorphic Intermediate Representation).

NIR (Pedersen et al., "Neuromorphic intermediate representation: A unified
instruction set for interoperable brain-inspired computing", Nature Communications
2024) describes a network as a graph of continuous-time nodes. A `SpikingNetwork`
becomes the chain

    Input -> Linear -> LIF -> Linear -> LIF -> ... -> Output

with one `nir.Linear` (weights only, NIR's `(out, in)` layout, so ours transposed)
and one `nir.LIF` per layer. NIR's LIF is

$$\tau \dot v = (v_\mathrm{leak} - v) + R\,I, \qquad I(t) = W S(t)$$

with $S$ the presynaptic spike train as Dirac deltas. Our parameters map one to one:
`tau = tau_n`, `r = resistance`, `v_leak = v_rest`, `v_threshold = v_th`,
`v_reset = v_reset`, and the weights are unscaled. A spike through weight $w$ makes
NIR's membrane jump by $R w / \tau$. The stepper of `SpikingNetwork` enters the spike
as a pulse of height $1/\Delta t$ held over one step and integrates it exactly, so the
membrane gains $R w (1 - e^{-\Delta t/\tau}) / \Delta t$ by the end of the step. That
value lies between the jump of a Dirac at the start of the step and one at its end,
and equals $R w / \tau$ up to a relative $O(\Delta t / \tau)$. Some tools hold a
spike at height 1, not $1/\Delta t$, for one step. Their graphs carry weights
$\Delta t$ times smaller in these units, so multiply such weights by their step
after import.

What NIR's LIF does not express goes into a JSON sidecar beside the graph
(`model.nir` and `model.astrocytes.json`), described in `docs/nir.md`: the step
`dt`, the refractory period `t_ref`, a `SubtractReset` rule, the astrocyte domains
and the `LIFA`, `Gliotransmitter` and `TripartiteCoupling` parameters. A NIR
consumer that reads only the graph runs a plain LIF network with reset to
`v_reset`, no refractory period and no astrocytes; `export_nir(..., strict=True)`
raises instead of writing a graph whose plain reading differs that way.

Two details differ between the definitions: NIR fires when $v > v_\mathrm{thr}$,
the stepper when $V \ge V_\mathrm{th}$, so a membrane exactly at threshold fires
here only. Times in graphs written here are in ms.
"""

from __future__ import annotations

import io
import json
import os
import pathlib
from typing import TYPE_CHECKING

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..dynamics import LIF, LIFA, Gliotransmitter, TripartiteCoupling, ZeroReset, reset_from_name
from ..dynamics.base import SubtractReset
from ..io.atomic import atomic_write_bytes, atomic_write_json
from ..io.checkpoint import network_header
from ..network import SpikingNetwork

if TYPE_CHECKING:
    import nir

SIDECAR_FORMAT = "lifa_jax-nir-sidecar"
SIDECAR_SCHEMA_VERSION = 1
SIDECAR_SUFFIX = ".astrocytes.json"

# LIF parameters of NIR and the `LIF` fields they map to.
_LIF_FIELDS = (
    ("tau", "tau_n"),
    ("r", "resistance"),
    ("v_leak", "v_rest"),
    ("v_threshold", "v_th"),
    ("v_reset", "v_reset"),
)
_SUPPORTED = "Input, Linear, Affine (zero bias), LIF and Output"


def sidecar_path(graph_path: str | os.PathLike) -> pathlib.Path:
    """Return the sidecar path beside a graph file: `model.nir` -> `model.astrocytes.json`."""
    return pathlib.Path(graph_path).with_suffix(SIDECAR_SUFFIX)


def nir_sidecar(network: SpikingNetwork) -> dict:
    """Return the JSON-serialisable sidecar: everything of `network` that NIR's graph lacks.

    Keys: `format`, `schema_version`, `library_version`, `time_unit` ("ms"), `dt`
    (ms), `topology`, `neuron` (`t_ref` in ms and `reset`, "zero" or "subtract")
    and `domains` (astrocyte index per neuron and layer, -1 for none). The
    `astrocyte`, `gliotransmitter` and `coupling` entries use the field names of
    `LIFA`, `Gliotransmitter` and `TripartiteCoupling`.
    """
    import lifa_jax

    header = network_header(network)
    return {
        "format": SIDECAR_FORMAT,
        "schema_version": SIDECAR_SCHEMA_VERSION,
        "library_version": lifa_jax.__version__,
        "time_unit": "ms",
        "dt": header["dt"],
        "topology": header["topology"],
        "neuron": {"t_ref": header["neuron"]["t_ref"], "reset": header["neuron"]["reset"]},
        "domains": header["domains"],
        "astrocyte": header["astrocyte"],
        "gliotransmitter": header["gliotransmitter"],
        "coupling": header["coupling"],
    }


def export_nir(network: SpikingNetwork, path: str | os.PathLike | None = None, *, strict: bool = False) -> nir.NIRGraph:
    """Convert `network` to a NIR graph, and write it and its sidecar when `path` is given.

    The graph is `input -> linear1 -> lif1 -> ... -> linearL -> lifL -> output`, with
    the mapping described in this module's docstring. With `path`, the graph is
    written by `nir.write` (HDF5) and the sidecar from `nir_sidecar` beside it, at
    `sidecar_path(path)`, each file atomically.

    **Arguments:**

    - `network`: the `SpikingNetwork`; its neuron parameters must be scalars.
    - `path`: graph file to write, e.g. `model.nir`; `None` writes nothing.
    - `strict`: raise `ValueError` when the network uses something a graph-only NIR
      reader would miss: a `SubtractReset`, a refractory period of one step or
      more, or astrocyte coupling (`alpha > 0` with at least one astrocyte).

    **Returns:** the `nir.NIRGraph`.
    """
    import nir  # imported on first use: it costs about 0.5 s and only this module needs it

    if strict:
        _check_nir_expressible(network)
    neuron = network.neuron

    nodes = {"input": nir.Input(input_type={"input": np.array([network.topology[0]])})}
    edges = []
    previous = "input"
    for layer, (weights, n_post) in enumerate(zip(network.weights, network.topology[1:]), start=1):
        parameters = {
            nir_name: _broadcast_scalar(getattr(neuron, field), n_post, f"neuron.{field}")
            for nir_name, field in _LIF_FIELDS
        }
        nodes[f"linear{layer}"] = nir.Linear(weight=np.asarray(weights).T.copy())
        nodes[f"lif{layer}"] = nir.LIF(**parameters)
        edges += [(previous, f"linear{layer}"), (f"linear{layer}", f"lif{layer}")]
        previous = f"lif{layer}"
    nodes["output"] = nir.Output(output_type={"output": np.array([network.topology[-1]])})
    edges.append((previous, "output"))

    metadata = {"generator": "lifa_jax", "time_unit": "ms", "dt": float(network.dt)}
    if path is not None:
        metadata["sidecar"] = sidecar_path(path).name
    graph = nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)

    if path is not None:
        buffer = io.BytesIO()
        nir.write(buffer, graph)
        atomic_write_bytes(path, buffer.getvalue())
        sidecar = nir_sidecar(network)
        sidecar["graph"] = pathlib.Path(path).name
        atomic_write_json(sidecar_path(path), sidecar)
    return graph


def import_nir(
    graph_or_path: nir.NIRGraph | str | os.PathLike,
    *,
    dt: float | None = None,
    sidecar: dict | str | os.PathLike | bool | None = None,
) -> SpikingNetwork:
    """Build a `SpikingNetwork` from a NIR graph of `Linear`/`Affine` and `LIF` layers.

    The graph must be one chain `Input -> (Linear | Affine -> LIF)+ -> Output`, as
    exported here or by tools that export feed-forward LIF networks. Every LIF
    node must share one set of parameters, because a `SpikingNetwork` has one `LIF`
    for all layers. Without a sidecar the network has no astrocytes (all domains
    -1, `alpha = 0`), no refractory period and reset to `v_reset`, which is NIR's
    LIF. Graph times are read in the unit of `dt`.

    **Arguments:**

    - `graph_or_path`: a `nir.NIRGraph` or the path of a NIR (HDF5) file.
    - `dt`: simulation step (ms). `None` takes the sidecar's `dt`, else 1.0.
    - `sidecar`: the sidecar as a dict (from `nir_sidecar`) or a path; `False` to
      import the graph alone. `None` reads `sidecar_path(path)` when a path was
      given and that file exists; a graph whose metadata names a sidecar that is
      not found raises `FileNotFoundError`.

    **Returns:** the `SpikingNetwork`, with `DenseProjection` propagation.

    **Raises:** `NotImplementedError` naming the node for node types other than
    Input, Linear, Affine, LIF and Output, for an `Affine` with a nonzero bias,
    and for LIF parameters that differ between neurons or layers. `ValueError` for
    a graph that is not one chain or has mismatched sizes, and for an invalid
    sidecar.
    """
    graph, source = _read_graph(graph_or_path)
    sidecar = _resolve_sidecar(graph, source, sidecar)

    layers = _linear_lif_chain(graph)
    weights, lif_parameters, topology = _layer_arrays(layers)
    neuron = _neuron_from_lif(layers, lif_parameters, sidecar)

    if sidecar is None:
        dt = 1.0 if dt is None else dt
        domains = [np.full((n,), -1, dtype=np.int32) for n in topology[1:]]
        extras = {"coupling": TripartiteCoupling(alpha=0.0)}
    else:
        _check_sidecar(sidecar, topology)
        dt = float(sidecar["dt"]) if dt is None else dt
        astrocyte = dict(sidecar["astrocyte"])
        astrocyte["reset"] = reset_from_name(astrocyte["reset"])
        domains = [np.asarray(d, dtype=np.int32) for d in sidecar["domains"]]
        extras = {
            "astrocyte": LIFA(**astrocyte),
            "gliotransmitter": Gliotransmitter(**sidecar["gliotransmitter"]),
            "coupling": TripartiteCoupling(**sidecar["coupling"]),
        }

    network = SpikingNetwork.init(topology, key=jax.random.key(0), neuron=neuron, domains=domains, dt=dt, **extras)
    dtype = jnp.result_type(float)
    return eqx.tree_at(lambda n: n.weights, network, tuple(jnp.asarray(w, dtype=dtype) for w in weights))


def _check_nir_expressible(network: SpikingNetwork) -> None:
    neuron = network.neuron
    if isinstance(neuron.reset, SubtractReset):
        raise ValueError(
            "network.neuron.reset is SubtractReset, which NIR's LIF cannot express (it resets to v_reset); "
            "use ZeroReset() or export with strict=False to store the rule in the sidecar."
        )
    refractory_steps = int(np.round(float(neuron.t_ref) / network.dt))
    if refractory_steps > 0:
        raise ValueError(
            f"network.neuron.t_ref is {float(neuron.t_ref)} ms ({refractory_steps} steps of {network.dt} ms), "
            "but NIR's LIF has no refractory period; set t_ref=0.0 or export with strict=False to store it "
            "in the sidecar."
        )
    if float(network.coupling.alpha) > 0 and sum(network.n_astrocytes) > 0:
        raise ValueError(
            f"network.coupling.alpha is {float(network.coupling.alpha)} with {sum(network.n_astrocytes)} "
            "astrocytes, and NIR has no astrocyte node; set alpha=0.0 or export with strict=False to store "
            "the astrocytes in the sidecar."
        )


def _broadcast_scalar(value, size: int, name: str) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if array.ndim != 0:
        raise ValueError(
            f"{name} must be a scalar shared by all neurons to export to NIR, got shape {array.shape}; pass one number."
        )
    return np.full((size,), float(array))


def _read_graph(graph_or_path) -> tuple[nir.NIRGraph, pathlib.Path | None]:
    import nir

    if isinstance(graph_or_path, nir.NIRGraph):
        return graph_or_path, None
    if not isinstance(graph_or_path, str | os.PathLike):
        raise TypeError(
            f"graph_or_path must be a nir.NIRGraph or a file path, got {type(graph_or_path).__name__}; "
            "pass the graph or the .nir file."
        )
    path = pathlib.Path(graph_or_path)
    if not path.is_file():
        raise FileNotFoundError(f"NIR file {str(path)!r} not found; pass the path of a graph written by nir.write.")
    try:
        graph = nir.read(path)
    except (OSError, KeyError, ValueError) as error:
        raise ValueError(
            f"{str(path)!r} is not a readable NIR file ({error}); pass a graph written by nir.write."
        ) from None
    return graph, path


def _resolve_sidecar(graph: nir.NIRGraph, source: pathlib.Path | None, sidecar) -> dict | None:
    if sidecar is False:
        return None
    if sidecar is True:
        raise ValueError("sidecar=True is invalid; pass a dict, a path, None (look beside the file) or False.")
    if isinstance(sidecar, dict):
        return sidecar
    if sidecar is not None:
        return _read_sidecar(pathlib.Path(sidecar))

    metadata = graph.metadata if isinstance(graph.metadata, dict) else {}
    named = metadata.get("sidecar")
    if source is not None:
        candidate = source.parent / str(named) if named else sidecar_path(source)
        if candidate.is_file():
            return _read_sidecar(candidate)
        if named:
            raise FileNotFoundError(
                f"the graph {str(source)!r} names the sidecar {str(named)!r}, which was not found beside it; "
                "pass sidecar=PATH, or sidecar=False to import the graph without astrocytes."
            )
        return None
    if named:
        raise ValueError(
            f"the graph names the sidecar {str(named)!r}; pass sidecar= the dict from nir_sidecar or the "
            "sidecar file, or sidecar=False to import the graph without astrocytes."
        )
    return None


def _read_sidecar(path: pathlib.Path) -> dict:
    if not path.is_file():
        raise FileNotFoundError(
            f"sidecar {str(path)!r} not found; pass the .astrocytes.json file written by export_nir."
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(
            f"sidecar {str(path)!r} is not valid JSON ({error}); write it again with export_nir."
        ) from None


def _check_sidecar(sidecar: dict, topology: tuple[int, ...]) -> None:
    if sidecar.get("format") != SIDECAR_FORMAT:
        raise ValueError(
            f"the sidecar has format {sidecar.get('format')!r}, expected {SIDECAR_FORMAT!r}; "
            "pass the .astrocytes.json file written by export_nir."
        )
    if sidecar.get("schema_version") != SIDECAR_SCHEMA_VERSION:
        raise ValueError(
            f"the sidecar has schema version {sidecar.get('schema_version')!r}, this library reads version "
            f"{SIDECAR_SCHEMA_VERSION}; export the network again."
        )
    if list(sidecar.get("topology", [])) != list(topology):
        raise ValueError(
            f"the sidecar describes topology {sidecar.get('topology')}, but the graph has {list(topology)}; "
            "pass the sidecar written together with this graph."
        )


def _linear_lif_chain(graph: nir.NIRGraph) -> list[tuple[str, nir.NIRNode, str, nir.LIF]]:
    """Return `(linear_name, linear_node, lif_name, lif_node)` per layer, input to output."""
    import nir

    for name, node in graph.nodes.items():
        if not isinstance(node, nir.Input | nir.Output | nir.Linear | nir.Affine | nir.LIF):
            raise NotImplementedError(
                f"NIR node {name!r} has type {type(node).__name__}, which import_nir does not support; "
                f"supported types: {_SUPPORTED}."
            )

    successors: dict[str, list[str]] = {name: [] for name in graph.nodes}
    for source, target in graph.edges:
        successors[source].append(target)
    inputs = [name for name, node in graph.nodes.items() if isinstance(node, nir.Input)]
    if len(inputs) != 1:
        raise ValueError(
            f"the graph must have one Input node, found {len(inputs)} ({inputs}); export a single-input chain."
        )

    order, name = [], inputs[0]
    while True:
        order.append(name)
        following = successors[name]
        if len(following) > 1:
            raise ValueError(
                f"NIR node {name!r} feeds {len(following)} nodes ({following}); import_nir supports one "
                "feed-forward chain Input -> (Linear -> LIF)+ -> Output."
            )
        if not following:
            break
        name = following[0]
        if name in order:
            raise ValueError(f"the graph has a cycle through node {name!r}; import_nir supports feed-forward chains.")
    if len(order) != len(graph.nodes):
        missing = sorted(set(graph.nodes) - set(order))
        raise ValueError(f"nodes {missing} are not on the chain from the Input node; remove them or connect them.")

    body = order[1:]
    if not body or not isinstance(graph.nodes[body[-1]], nir.Output):
        raise ValueError(f"the chain must end in an Output node, but ends in {order[-1]!r}; add an Output node.")
    body = body[:-1]
    layers = []
    for index in range(0, len(body), 2):
        linear_name = body[index]
        lif_name = body[index + 1] if index + 1 < len(body) else None
        linear, lif = graph.nodes[linear_name], graph.nodes.get(lif_name)
        if not isinstance(linear, nir.Linear | nir.Affine) or not isinstance(lif, nir.LIF):
            raise ValueError(
                f"expected a Linear or Affine node followed by a LIF node at {linear_name!r} -> {lif_name!r}, "
                f"got {type(linear).__name__} -> {type(lif).__name__}; import_nir supports "
                "Input -> (Linear -> LIF)+ -> Output."
            )
        if isinstance(linear, nir.Affine) and np.any(np.asarray(linear.bias) != 0):
            raise NotImplementedError(
                f"NIR node {linear_name!r} is an Affine with a nonzero bias, which SpikingNetwork cannot "
                "represent (its layers have no constant input current); retrain without biases or zero them."
            )
        layers.append((linear_name, linear, lif_name, lif))
    if not layers:
        raise ValueError("the graph has no Linear -> LIF layer; import_nir needs at least one.")
    return layers


def _layer_arrays(layers) -> tuple[list[np.ndarray], list[dict[str, np.ndarray]], tuple[int, ...]]:
    weights, parameters, topology = [], [], []
    for linear_name, linear, lif_name, lif in layers:
        weight = np.asarray(linear.weight)
        if weight.ndim != 2:
            raise ValueError(f"NIR node {linear_name!r} has a weight of shape {weight.shape}; expected (out, in).")
        n_out, n_in = weight.shape
        if topology and n_in != topology[-1]:
            raise ValueError(
                f"NIR node {linear_name!r} takes {n_in} inputs, but the layer before it has {topology[-1]} "
                "neurons; fix the weight shape."
            )
        topology += [n_in, n_out] if not topology else [n_out]
        lif_values = {nir_name: np.asarray(getattr(lif, nir_name), dtype=np.float64) for nir_name, _ in _LIF_FIELDS}
        for nir_name, value in lif_values.items():
            if value.shape != (n_out,):
                raise ValueError(
                    f"NIR node {lif_name!r} has {nir_name} of shape {value.shape}, but {linear_name!r} has "
                    f"{n_out} outputs; give one value per neuron."
                )
        weights.append(weight.T)
        parameters.append(lif_values)
    return weights, parameters, tuple(int(n) for n in topology)


def _neuron_from_lif(layers, lif_parameters, sidecar: dict | None) -> LIF:
    first_name = layers[0][2]
    shared = {}
    for nir_name, field in _LIF_FIELDS:
        reference = lif_parameters[0][nir_name][0]
        for (_, _, lif_name, _), values in zip(layers, lif_parameters):
            if np.any(values[nir_name] != values[nir_name][0]):
                raise NotImplementedError(
                    f"NIR node {lif_name!r} has {nir_name} that differs between neurons; SpikingNetwork "
                    "shares one LIF parameter set, so give every neuron the same value."
                )
            if values[nir_name][0] != reference:
                raise NotImplementedError(
                    f"NIR nodes {first_name!r} and {lif_name!r} have different {nir_name} "
                    f"({reference} and {values[nir_name][0]}); SpikingNetwork shares one LIF for all layers."
                )
        shared[field] = float(reference)

    if sidecar is None:
        return LIF(**shared, t_ref=0.0, reset=ZeroReset())
    extension = sidecar.get("neuron", {})
    return LIF(
        **shared, t_ref=float(extension.get("t_ref", 0.0)), reset=reset_from_name(extension.get("reset", "zero"))
    )
