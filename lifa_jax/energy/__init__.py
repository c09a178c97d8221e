"""Energy accounting and the alternative reduce regime (ARR): event counts, cost tables, gating."""

from .costs import (
    COST_TABLES,
    HOROWITZ_45NM,
    HOROWITZ_45NM_DRAM,
    LOIHI,
    CostTable,
    cost_table_from_dict,
    load_cost_table,
)
from .events import EnergyBreakdown, EventCounts, RoutingEvents, energy_breakdown, routing_events, sum_events
from .gating import (
    AbstractGating,
    DomainGating,
    GatedSimulation,
    GatingParameters,
    NeuronGating,
    NoGating,
    simulate_gated,
)

__all__ = [
    "COST_TABLES",
    "HOROWITZ_45NM",
    "HOROWITZ_45NM_DRAM",
    "LOIHI",
    "AbstractGating",
    "CostTable",
    "DomainGating",
    "EnergyBreakdown",
    "EventCounts",
    "GatedSimulation",
    "GatingParameters",
    "NeuronGating",
    "NoGating",
    "RoutingEvents",
    "cost_table_from_dict",
    "energy_breakdown",
    "load_cost_table",
    "routing_events",
    "simulate_gated",
    "sum_events",
]
