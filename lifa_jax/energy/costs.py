"""Per-event energy tables: what one synaptic operation, neuron update, spike, astrocyte update or hop costs."""

import json
import math
import os
import pathlib

import equinox as eqx

ENERGY_FIELDS = (
    "synaptic_op_pj",
    "neuron_update_pj",
    "spike_pj",
    "astrocyte_update_pj",
    "hop_x_pj",
    "hop_y_pj",
    "router_pj",
)


class CostTable(eqx.Module):
    r"""Energy of each counted event (pJ), with the technology it belongs to and its source.

    The energy of a simulation is the dot product of its event counts with this
    table:

    $$E = n_\mathrm{syn} e_\mathrm{syn} + n_\mathrm{upd} e_\mathrm{upd}
        + n_\mathrm{spk} e_\mathrm{spk} + n_\mathrm{ast} e_\mathrm{ast}
        + h_x e_x + h_y e_y + r\, e_r$$

    **Fields (pJ per event, all non-negative and finite):**

    - `synaptic_op_pj`: one presynaptic spike delivered through one synapse
      (read the weight, add it to the postsynaptic input).
    - `neuron_update_pj`: one time step of one neuron's membrane update.
    - `spike_pj`: one spike emitted by a hidden or output neuron.
    - `astrocyte_update_pj`: one time step of one astrocyte (calcium and
      gliotransmitter).
    - `hop_x_pj`, `hop_y_pj`: one packet crossing one mesh link along x (east or
      west) or along y (north or south).
    - `router_pj`: one packet passing one router. It is 0 where the hop energies
      already include the router.

    **Static fields:** `name`, `node` (technology node), `source` (citation and
    how each number was obtained).

    **Example:**

    ```python
    table = CostTable(name="mine", node="28 nm", source="my measurements",
                      synaptic_op_pj=10.0, neuron_update_pj=20.0)
    ```
    """

    name: str = eqx.field(static=True)
    node: str = eqx.field(static=True)
    source: str = eqx.field(static=True)
    synaptic_op_pj: float = eqx.field(static=True, default=0.0)
    neuron_update_pj: float = eqx.field(static=True, default=0.0)
    spike_pj: float = eqx.field(static=True, default=0.0)
    astrocyte_update_pj: float = eqx.field(static=True, default=0.0)
    hop_x_pj: float = eqx.field(static=True, default=0.0)
    hop_y_pj: float = eqx.field(static=True, default=0.0)
    router_pj: float = eqx.field(static=True, default=0.0)

    def __check_init__(self):
        for name in ENERGY_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number of pJ, got {value!r}; pass an energy such as 1.5.")
            if value < 0:
                raise ValueError(f"{name} must be non-negative, got {value!r} pJ; an event cannot return energy.")

    def as_dict(self) -> dict:
        """Return the table as a JSON-serialisable dict (the format `load_cost_table` reads)."""
        return {
            "name": self.name,
            "node": self.node,
            "source": self.source,
            **{name: float(getattr(self, name)) for name in ENERGY_FIELDS},
        }


# Loihi: Davies et al., "Loihi: A Neuromorphic Manycore Processor with On-Chip
# Learning", IEEE Micro 38(1), 2018, Table 2, pre-silicon SDF and SPICE
# simulations of the Intel 14 nm chip. The numbers were read from secondary
# transcriptions that quote the table row by row; the paper itself was not
# opened here, so they are unverified against the primary source.
# Rows used: "Energy per synaptic spike op (min) 23.6 pJ", "Energy per neuron
# update (active / inactive) 81 pJ / 52 pJ", "Within-tile spike energy 1.7 pJ",
# "Energy per tile hop (E-W / N-S) 3.0 pJ / 4.0 pJ".
# NOTE: every neuron update is charged the inactive 52 pJ, so the neuron part is
# a lower bound for updates that integrate input (81 pJ if "active" means that).
# Loihi has no astrocytes. A LIFA astrocyte holds two leaky state variables
# (calcium and gliotransmitter), which is charged as two inactive compartment
# updates, 2 x 52 pJ: an estimate, not a Loihi figure.
LOIHI = CostTable(
    name="loihi",
    node="Intel 14 nm FinFET",
    source=(
        "Davies et al., 'Loihi: A Neuromorphic Manycore Processor with On-Chip Learning', IEEE Micro 2018, "
        "Table 2 (pre-silicon simulation): synaptic op 23.6 pJ (min), neuron update 52 pJ (inactive; 81 pJ "
        "active), within-tile spike 1.7 pJ, tile hop 3.0 pJ east-west and 4.0 pJ north-south (router included). "
        "Values taken from secondary transcriptions of the table, unverified against the paper. Astrocyte "
        "update 104 pJ = 2 x 52 pJ is an estimate (two leaky state variables)."
    ),
    synaptic_op_pj=23.6,
    neuron_update_pj=52.0,
    spike_pj=1.7,
    astrocyte_update_pj=104.0,
    hop_x_pj=3.0,
    hop_y_pj=4.0,
    router_pj=0.0,
)

# 45 nm arithmetic and memory: Horowitz, "Computing's energy problem (and what
# we can do about it)", ISSCC 2014, 45 nm at 0.9 V: 32-bit float add 0.9 pJ,
# 32-bit float multiply 3.7 pJ, 64-bit read of an 8 KB SRAM 10 pJ (so 5 pJ for
# 32 bits), 32-bit DRAM access 640 pJ. Checked against secondary sources that
# quote the same numbers from that talk (a Frontiers table of Horowitz's 45 nm
# values; a Stanford CS149 lecture slide giving DRAM as 6400 times a 0.1 pJ
# integer add); the talk itself was not opened, so unverified against it.
# The per-event energies below are compositions of those primitives (our
# choice), for 32-bit floats with state and weights in a local 8 KB SRAM:
#   synaptic op     = weight read (5) + float add (0.9)                  =  5.9 pJ
#   neuron update   = read and write V (2 x 5) + 4 multiplies (decay,
#                     drive, coupling, gain; 4 x 3.7) + 5 adds and
#                     compares (threshold test included; 5 x 0.9)        = 29.3 pJ
#   spike           = one 32-bit SRAM write of the spike event           =  5.0 pJ
#   astrocyte update = read and write C and G (4 x 5) + 4 multiplies
#                     + 4 adds and compares                              = 38.4 pJ
# Horowitz gives no on-chip network energy. The hop and router energies are
# the illustrative defaults of lifa_jax.routing.HopCost for a 32-bit packet
# (0.04 pJ/bit per link, 0.07 pJ/bit per router), not measured values.
_SRAM_32 = 5.0
_FADD = 0.9
_FMUL = 3.7
HOROWITZ_45NM = CostTable(
    name="horowitz-45nm",
    node="45 nm CMOS, 0.9 V",
    source=(
        "Horowitz, 'Computing's energy problem (and what we can do about it)', ISSCC 2014 (45 nm, 0.9 V): "
        "32-bit float add 0.9 pJ, multiply 3.7 pJ, 32-bit read of an 8 KB SRAM 5 pJ; taken from secondary "
        "sources quoting the talk, unverified against it. Per-event energies are compositions of these (our "
        "choice): synaptic op = SRAM read + add; neuron update = 2 SRAM accesses + 4 multiplies + 5 adds; "
        "spike = 1 SRAM write; astrocyte update = 4 SRAM accesses + 4 multiplies + 4 adds. Hop and router "
        "energies are illustrative (lifa_jax.routing.HopCost defaults for 32-bit packets), not from Horowitz."
    ),
    synaptic_op_pj=_SRAM_32 + _FADD,
    neuron_update_pj=2 * _SRAM_32 + 4 * _FMUL + 5 * _FADD,
    spike_pj=_SRAM_32,
    astrocyte_update_pj=4 * _SRAM_32 + 4 * _FMUL + 4 * _FADD,
    hop_x_pj=0.04 * 32,
    hop_y_pj=0.04 * 32,
    router_pj=0.07 * 32,
)

# The same composition with every weight read from DRAM (640 pJ per 32-bit
# access at 45 nm, Horowitz, ISSCC 2014, unverified as above): a network whose
# weights do not fit on chip.
_DRAM_32 = 640.0
HOROWITZ_45NM_DRAM = CostTable(
    name="horowitz-45nm-dram",
    node="45 nm CMOS, 0.9 V",
    source=(
        "As horowitz-45nm, but every synaptic op reads its weight from DRAM (640 pJ per 32-bit access, "
        "Horowitz, ISSCC 2014; unverified against the talk): synaptic op = 640 + 0.9 pJ."
    ),
    synaptic_op_pj=_DRAM_32 + _FADD,
    neuron_update_pj=HOROWITZ_45NM.neuron_update_pj,
    spike_pj=HOROWITZ_45NM.spike_pj,
    astrocyte_update_pj=HOROWITZ_45NM.astrocyte_update_pj,
    hop_x_pj=HOROWITZ_45NM.hop_x_pj,
    hop_y_pj=HOROWITZ_45NM.hop_y_pj,
    router_pj=HOROWITZ_45NM.router_pj,
)

COST_TABLES = {table.name: table for table in (LOIHI, HOROWITZ_45NM, HOROWITZ_45NM_DRAM)}


def cost_table_from_dict(data: dict, *, default_name: str = "custom") -> CostTable:
    """Build a `CostTable` from a dict with the keys of `CostTable.as_dict`.

    Every energy field must be present; `name`, `node` and `source` are optional.
    Raises `ValueError` naming a missing, unknown, non-numeric or negative entry.
    """
    if not isinstance(data, dict):
        raise ValueError(f"a cost table must be a JSON object, got {type(data).__name__}.")
    unknown = sorted(set(data) - set(ENERGY_FIELDS) - {"name", "node", "source"})
    if unknown:
        raise ValueError(f"unknown cost table entry {unknown[0]!r}; use the keys {', '.join(ENERGY_FIELDS)}.")
    missing = [name for name in ENERGY_FIELDS if name not in data]
    if missing:
        raise ValueError(f"cost table entry {missing[0]!r} is missing; give every one of {', '.join(ENERGY_FIELDS)}.")
    return CostTable(
        name=str(data.get("name", default_name)),
        node=str(data.get("node", "not stated")),
        source=str(data.get("source", "not stated")),
        **{name: data[name] for name in ENERGY_FIELDS},
    )


def load_cost_table(name_or_path: str | os.PathLike) -> CostTable:
    """Return the built-in table of that name (`COST_TABLES`) or read a JSON file.

    Raises `ValueError` for an unknown name, a missing or unreadable file or an invalid table.
    """
    key = str(name_or_path)
    if key in COST_TABLES:
        return COST_TABLES[key]
    path = pathlib.Path(key)
    looks_like_path = key.lower().endswith(".json") or os.sep in key or (os.altsep is not None and os.altsep in key)
    if looks_like_path and not path.exists():
        raise ValueError(
            f"cost table file {key!r} not found; pass the path of an existing JSON file or one of the built-in "
            f"tables: {', '.join(COST_TABLES)}."
        )
    if path.is_dir():
        raise ValueError(f"cost table path {key!r} is a folder; pass the path of a JSON file inside it.")
    if not path.is_file():
        raise ValueError(
            f"cost table {key!r} is neither a built-in table ({', '.join(COST_TABLES)}) nor a JSON file; "
            "pass one of those names or the path of a JSON file."
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"cost table file {key!r} is not valid JSON ({error}); fix or replace it.") from None
    return cost_table_from_dict(data, default_name=path.stem)
