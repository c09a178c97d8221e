"""Checkpoints: a JSON header line followed by Equinox-serialised leaves."""

import io
import json
import os
import pathlib

import equinox as eqx
import numpy as np

from ..dynamics import LIF, LIFA, Gliotransmitter, TripartiteCoupling, reset_from_name
from ..dynamics.base import SubtractReset
from ..network import SpikingNetwork
from .atomic import atomic_write_bytes

SCHEMA_VERSION = 1
MAGIC = "lifa_jax-checkpoint"


class CheckpointError(ValueError):
    """A checkpoint file that is missing, corrupt or does not match what was requested."""


def _reset_name(rule) -> str:
    return "subtract" if isinstance(rule, SubtractReset) else "zero"


def network_header(network: SpikingNetwork) -> dict:
    """Return the JSON-serialisable description needed to rebuild `network`'s structure."""
    neuron, astro, glio, coupling = network.neuron, network.astrocyte, network.gliotransmitter, network.coupling
    return {
        "topology": list(network.topology),
        "dt": network.dt,
        "domains": [np.asarray(d).tolist() for d in network.domains],
        "neuron": {
            "tau_n": float(neuron.tau_n),
            "v_rest": float(neuron.v_rest),
            "v_th": float(neuron.v_th),
            "v_reset": float(neuron.v_reset),
            "resistance": float(neuron.resistance),
            "t_ref": float(neuron.t_ref),
            "reset": _reset_name(neuron.reset),
        },
        "astrocyte": {
            "tau_c": float(astro.tau_c),
            "c_rest": float(astro.c_rest),
            "c_th": float(astro.c_th),
            "c_reset": float(astro.c_reset),
            "kappa_c": float(astro.kappa_c),
            "t_ref_c": float(astro.t_ref_c),
            "reset": _reset_name(astro.reset),
        },
        "gliotransmitter": {"tau_g": float(glio.tau_g), "delta_g": float(glio.delta_g)},
        "coupling": {"p0": float(coupling.p0), "alpha": float(coupling.alpha)},
    }


def network_from_header(header: dict) -> SpikingNetwork:
    """Return a network skeleton with the structure described by `header` (weights are placeholders)."""
    import jax

    neuron = dict(header["neuron"])
    neuron["reset"] = reset_from_name(neuron["reset"])
    astro = dict(header["astrocyte"])
    astro["reset"] = reset_from_name(astro["reset"])
    return SpikingNetwork.init(
        header["topology"],
        key=jax.random.key(0),
        neuron=LIF(**neuron),
        astrocyte=LIFA(**astro),
        gliotransmitter=Gliotransmitter(**header["gliotransmitter"]),
        coupling=TripartiteCoupling(**header["coupling"]),
        domains=[np.asarray(d, dtype=np.int32) for d in header["domains"]],
        dt=header["dt"],
    )


def save_checkpoint(path: str | os.PathLike, network: SpikingNetwork, metadata: dict | None = None) -> pathlib.Path:
    """Write `network` and `metadata` atomically to `path`."""
    import lifa_jax

    header = {
        "format": MAGIC,
        "schema_version": SCHEMA_VERSION,
        "library_version": lifa_jax.__version__,
        "network": network_header(network),
        "metadata": metadata or {},
    }
    buffer = io.BytesIO()
    buffer.write(json.dumps(header).encode("utf-8") + b"\n")
    eqx.tree_serialise_leaves(buffer, network)
    return atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: str | os.PathLike, *, expect_topology=None) -> tuple[SpikingNetwork, dict]:
    """Read a checkpoint written by `save_checkpoint`; return `(network, header)`.

    Raises `CheckpointError` naming the problem when the file is not a checkpoint,
    has another schema version, is truncated, or its topology differs from
    `expect_topology`.
    """
    path = pathlib.Path(path)
    skeleton, header = load_checkpoint_header_only(path)
    data = path.read_bytes()
    newline = data.find(b"\n")
    topology = header["network"]["topology"]
    if expect_topology is not None and list(expect_topology) != list(topology):
        raise CheckpointError(
            f"checkpoint {str(path)!r} has topology {topology}, but {list(expect_topology)} was requested; "
            f"pass the matching topology {topology} (or none: the checkpoint stores it)."
        )
    try:
        network = eqx.tree_deserialise_leaves(io.BytesIO(data[newline + 1 :]), skeleton)
    except Exception as error:  # equinox raises several types for truncated or mismatched data
        raise CheckpointError(f"checkpoint {str(path)!r} is corrupt or truncated ({error}); write it again.") from None
    return network, header


def save_training_state(
    path: str | os.PathLike, network: SpikingNetwork, opt_state, *, epoch: int, metadata: dict | None = None
) -> pathlib.Path:
    """Write a network, its optimiser state and the epoch reached, atomically.

    Read it back with `load_training_state` and the same optimiser, whose `init`
    gives the structure the saved state fills.
    """
    header_meta = {**(metadata or {}), "epoch": int(epoch), "kind": "training_state"}
    import lifa_jax

    header = {
        "format": MAGIC,
        "schema_version": SCHEMA_VERSION,
        "library_version": lifa_jax.__version__,
        "network": network_header(network),
        "metadata": header_meta,
    }
    buffer = io.BytesIO()
    buffer.write(json.dumps(header).encode("utf-8") + b"\n")
    eqx.tree_serialise_leaves(buffer, (network, opt_state))
    return atomic_write_bytes(path, buffer.getvalue())


def load_training_state(path: str | os.PathLike, optimizer) -> tuple[SpikingNetwork, object, int, dict]:
    """Read a file written by `save_training_state`; return `(network, opt_state, epoch, header)`.

    `optimizer` must be the Optax transformation that produced the state (same
    chain and hyperparameter structure); a mismatch raises `CheckpointError`.
    """
    path = pathlib.Path(path)
    network, header = load_checkpoint_header_only(path)
    if header["metadata"].get("kind") != "training_state":
        raise CheckpointError(f"{str(path)!r} contains a model, not a training state; use load_checkpoint for it.")
    opt_skeleton = optimizer.init(eqx.filter(network, eqx.is_inexact_array))
    data = path.read_bytes()
    newline = data.find(b"\n")
    try:
        network, opt_state = eqx.tree_deserialise_leaves(io.BytesIO(data[newline + 1 :]), (network, opt_skeleton))
    except Exception as error:  # equinox raises several types for truncated or mismatched data
        raise CheckpointError(
            f"training state {str(path)!r} does not match this optimiser or is truncated ({error}); "
            "pass the optimiser it was saved with."
        ) from None
    return network, opt_state, int(header["metadata"]["epoch"]), header


def load_checkpoint_header_only(path: pathlib.Path) -> tuple[SpikingNetwork, dict]:
    """Return a network skeleton and the header of a checkpoint file, without reading its leaves."""
    if path.is_dir():
        raise CheckpointError(f"checkpoint {str(path)!r} is a folder; pass the model.eqx file inside it.")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} not found; pass a file written by lifa_jax.")
    data = path.read_bytes()
    newline = data.find(b"\n")
    try:
        header = json.loads(data[:newline].decode("utf-8")) if newline > 0 else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        header = None
    if not isinstance(header, dict) or header.get("format") != MAGIC:
        raise CheckpointError(f"{str(path)!r} is not a lifa_jax checkpoint; pass a file written by lifa_jax.")
    if header.get("schema_version") != SCHEMA_VERSION:
        raise CheckpointError(
            f"checkpoint {str(path)!r} has schema version {header.get('schema_version')!r}, this library "
            f"reads version {SCHEMA_VERSION}; retrain or convert it with the version that wrote it."
        )
    return network_from_header(header["network"]), header
