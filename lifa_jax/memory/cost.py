"""Memory footprint of each associative memory and the cost of writing it per technology."""

import math

import equinox as eqx

from .base import check_fraction, check_positive_int


class MemoryTechnology(eqx.Module):
    r"""A storage cell technology: capacitance and energy to write one bit.

    A capacitive cell (SRAM, DRAM) written to voltage $V$ through capacitance $C$
    draws $E = C V^2$ from the supply. Where a source gives the energy directly,
    the capacitance is the effective switched capacitance $E / V^2$. A memristor
    switches by current flowing through it, so its energy is the measured
    switching energy and its capacitance only the cell's parasitic one.

    **Fields:**

    - `name`: technology name.
    - `capacitance_f`: capacitance switched to write one bit (F).
    - `write_voltage_v`: write voltage (V), or None where $C V^2$ does not set the
      energy (memristors).
    - `energy_per_bit_j`: energy to write one bit (J).
    - `node`: technology node or device stack the values belong to.
    - `source`: where each value comes from.
    - `estimate`: True when any value is an estimate rather than a published number.
    """

    name: str = eqx.field(static=True)
    capacitance_f: float = eqx.field(static=True)
    write_voltage_v: float | None = eqx.field(static=True)
    energy_per_bit_j: float = eqx.field(static=True)
    node: str = eqx.field(static=True)
    source: str = eqx.field(static=True)
    estimate: bool = eqx.field(static=True)

    def weight_capacitance_f(self, bits: int) -> float:
        """Return the capacitance switched to write one `bits`-bit weight in binary cells (F)."""
        check_positive_int("bits", bits, "pass the weight width in bits, e.g. 8")
        return bits * self.capacitance_f

    def weight_energy_j(self, bits: int) -> float:
        """Return the energy to write one `bits`-bit weight in binary cells (J)."""
        check_positive_int("bits", bits, "pass the weight width in bits, e.g. 8")
        return bits * self.energy_per_bit_j


# DRAM: "typically around 30 femtofarads" per cell, from textbook notes on DRAM
# (coursehero.com/file/5936594, no node given); the 1.2 V write level is an
# estimate (a DDR4-class supply). Cell only: the bitline, several times larger,
# is not counted.
DRAM = MemoryTechnology(
    name="DRAM (1T1C)",
    capacitance_f=30e-15,
    write_voltage_v=1.2,
    energy_per_bit_j=30e-15 * 1.2**2,
    node="not stated by the source",
    source="30 fF typical cell: textbook notes (coursehero.com/file/5936594); 1.2 V: estimate",
    estimate=True,
)

# SRAM: 1.0 fJ per bit measured on a 1-kb single-ended SRAM prototype in 40 nm
# CMOS at a 10 MHz clock (summary at staging.scite.ai, report
# "a-single-ended-low-power-16-nm-J10d4wL9"), an ultra-low-energy design rather
# than a typical cache. The capacitance is E / V^2 at an estimated 1.0 V.
SRAM = MemoryTechnology(
    name="SRAM (single-ended, low power)",
    capacitance_f=1.0e-15 / 1.0**2,
    write_voltage_v=1.0,
    energy_per_bit_j=1.0e-15,
    node="40 nm CMOS",
    source="1.0 fJ/bit measured, 1-kb single-ended SRAM prototype (40 nm); 1.0 V: estimate",
    estimate=True,
)

# Memristors: switching energies from the device table in P. Mazumder's talk
# "Memristor technology in ultra-dense neuromorphic and non-volatile memory
# architectures" (University of Michigan; copy at pdfslide.us): 1e-15 J for
# Ag/a-Si/p-Si (Jo & Lu 2008) and 6.3e-12 J for Cu/CuOx/TiN. The capacitance is a parallel-plate
# estimate for a 100 nm x 100 nm cell with a 10 nm oxide of relative
# permittivity 20: 8.85e-12 * 20 * 1e-14 / 1e-8 = 0.18 fF.
MEMRISTOR_AG_ASI = MemoryTechnology(
    name="memristor crossbar (Ag/a-Si/p-Si)",
    capacitance_f=8.85e-12 * 20 * 1e-14 / 1e-8,
    write_voltage_v=None,
    energy_per_bit_j=1e-15,
    node="device stack, no CMOS node",
    source="1e-15 J switching: Mazumder device table (Jo & Lu 2008); capacitance: parallel-plate estimate",
    estimate=True,
)
MEMRISTOR_CU_CUOX = MemoryTechnology(
    name="memristor crossbar (Cu/CuOx/TiN)",
    capacitance_f=8.85e-12 * 20 * 1e-14 / 1e-8,
    write_voltage_v=None,
    energy_per_bit_j=6.3e-12,
    node="device stack, no CMOS node",
    source="6.3e-12 J switching: Mazumder device table; capacitance: parallel-plate estimate",
    estimate=True,
)

TECHNOLOGIES = (SRAM, DRAM, MEMRISTOR_AG_ASI, MEMRISTOR_CU_CUOX)


class StorageFootprint(eqx.Module):
    """Bits a model must store, split by what they hold.

    **Fields:**

    - `model`: model name.
    - `weight_bits`: bits of synaptic weights (dense or sparse with indices).
    - `pattern_bits`: bits of stored patterns.
    - `state_bits`: bits of other stored per-unit state (gains, set-points).
    - `description`: one sentence on what is stored.
    """

    model: str = eqx.field(static=True)
    weight_bits: int = eqx.field(static=True)
    pattern_bits: int = eqx.field(static=True)
    state_bits: int = eqx.field(static=True)
    description: str = eqx.field(static=True)

    @property
    def total_bits(self) -> int:
        """All stored bits."""
        return self.weight_bits + self.pattern_bits + self.state_bits


def hopfield_footprint(n_neurons: int, bits: int) -> StorageFootprint:
    """Classical Hopfield network: a dense N x N matrix of `bits`-bit weights ($N^2 b$)."""
    check_positive_int("n_neurons", n_neurons, "pass the network size N")
    check_positive_int("bits", bits, "pass the weight width in bits, e.g. 8")
    return StorageFootprint(
        model="classical Hopfield",
        weight_bits=n_neurons**2 * bits,
        pattern_bits=0,
        state_bits=0,
        description="N^2 weights of b bits; the patterns themselves are not kept.",
    )


def diluted_footprint(n_neurons: int, bits: int, keep: float) -> StorageFootprint:
    """Diluted Hopfield network: kept weights with a ceil(log2 N)-bit column index each.

    Sparse (compressed-row) storage needs the index; when it costs more than the
    dense matrix, the dense $N^2 b$ is counted instead.
    """
    check_positive_int("n_neurons", n_neurons, "pass the network size N")
    check_positive_int("bits", bits, "pass the weight width in bits, e.g. 8")
    check_fraction("keep", keep, "pass the fraction of connections kept")
    kept = round(keep * n_neurons * (n_neurons - 1))
    index_bits = max(1, math.ceil(math.log2(n_neurons)))
    sparse = kept * (bits + index_bits) + (n_neurons + 1) * index_bits * 2
    dense = n_neurons**2 * bits
    return StorageFootprint(
        model=f"diluted Hopfield (keep {keep:g})",
        weight_bits=min(sparse, dense),
        pattern_bits=0,
        state_bits=0,
        description=(
            f"{kept} kept weights of b bits plus a {index_bits}-bit column index each and row "
            "pointers, or the dense matrix when that is smaller."
        ),
    )


def astrocyte_footprint(n_neurons: int, n_patterns: int) -> StorageFootprint:
    """Neuron-astrocyte (dense) memory: the K x N pattern bits; no weight matrix.

    The coupling $T_{ijkl}$ is applied from the patterns. Synapses and processes
    are dynamic variables during recall, not stored memories.
    """
    check_positive_int("n_neurons", n_neurons, "pass the network size N")
    check_positive_int("n_patterns", n_patterns, "pass the number of stored patterns K")
    return StorageFootprint(
        model="neuron-astrocyte (dense associative)",
        weight_bits=0,
        pattern_bits=n_patterns * n_neurons,
        state_bits=0,
        description="K N pattern bits from which the fourth-order coupling is applied.",
    )


def spiking_footprint(n_neurons: int, bits: int) -> StorageFootprint:
    """Spiking Hopfield memory with repair: N^2 b weights plus a b-bit gain and set-point per neuron."""
    check_positive_int("n_neurons", n_neurons, "pass the network size N")
    check_positive_int("bits", bits, "pass the weight width in bits, e.g. 8")
    return StorageFootprint(
        model="spiking Hopfield with astrocyte repair",
        weight_bits=n_neurons**2 * bits,
        pattern_bits=0,
        state_bits=2 * n_neurons * bits,
        description="N^2 weights, and per neuron a repair gain and a rate set-point, all b bits.",
    )


def write_energy_j(footprint: StorageFootprint, technology: MemoryTechnology) -> float:
    """Return the energy to write every bit of `footprint` once in `technology` (J)."""
    return footprint.total_bits * technology.energy_per_bit_j
