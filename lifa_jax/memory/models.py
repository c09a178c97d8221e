"""Model specifications: how to build each memory from patterns and how it recalls."""

import abc

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray

from .astrocyte import NeuronAstrocyteMemory
from .base import AbstractAssociativeMemory, RecallStatus, check_positive_int
from .dense import DenseAssociativeMemory, check_dense_load
from .dilution import AbstractDilution
from .hopfield import AbstractLearningRule, FactoredHebbianNetwork, Hebbian, HopfieldNetwork, check_load
from .update import AbstractUpdate, Synchronous


class AbstractMemoryModel(eqx.Module):
    """Everything a sweep needs to know about one kind of associative memory.

    `build` stores patterns (the rows whose mask entry is 1), `recall_state` runs
    one recall. Both are written for one instance and run under `jax.vmap`.
    """

    @abc.abstractmethod
    def check_load(self, n_patterns: int, n_neurons: int) -> None:
        """Raise `ValueError` when `n_patterns` is too many for `n_neurons`."""

    @abc.abstractmethod
    def build(
        self, patterns: Float[Array, "patterns neurons"], pattern_mask: Float[Array, " patterns"], *, key: PRNGKeyArray
    ):
        """Return the memory storing the masked patterns."""

    @abc.abstractmethod
    def recall_state(
        self, memory, cue: Float[Array, " neurons"], *, key: PRNGKeyArray
    ) -> tuple[Float[Array, " neurons"], Int[Array, ""]]:
        """Return the recalled state and its `RecallStatus` code."""

    def default_cue_batch(self, n_neurons: int, n_cues: int) -> int:
        """Return how many cues `recall_quality_curve` vmaps at once by default: all."""
        return n_cues


class HopfieldModel(AbstractMemoryModel):
    """Classical Hopfield network, optionally with fewer connections.

    **Arguments:**

    - `rule`: `Hebbian()` or `PseudoInverse()`.
    - `dilution`: `None`, `RandomDilution(keep)` or `MagnitudePruning(keep)`,
      applied to the weights after storage.
    - `update`: `Synchronous()` or `Asynchronous()`.
    - `max_sweeps`: bound on recall sweeps.
    """

    rule: AbstractLearningRule = Hebbian()
    dilution: AbstractDilution | None = None
    update: AbstractUpdate = Synchronous()
    max_sweeps: int = 100

    def __check_init__(self):
        check_positive_int("max_sweeps", self.max_sweeps, "pass a bound such as 100")

    def check_load(self, n_patterns, n_neurons):
        check_load(type(self.rule).__name__, n_patterns, self.rule.max_patterns(n_neurons), n_neurons)

    def build(self, patterns, pattern_mask, *, key):
        if isinstance(self.rule, Hebbian) and self.dilution is None and isinstance(self.update, Synchronous):
            # Same field as the weight matrix, without building it (see FactoredHebbianNetwork).
            return FactoredHebbianNetwork(patterns, pattern_mask)
        weights = self.rule.weights(patterns, pattern_mask)
        if self.dilution is not None:
            weights = weights * self.dilution.mask(weights, key=key)
        return HopfieldNetwork(weights)

    def recall_state(self, memory: AbstractAssociativeMemory, cue, *, key):
        result = self.update.run(memory, cue, self.max_sweeps, key)
        return result.state, result.status

    def default_cue_batch(self, n_neurons, n_cues):
        """Return 1 (one cue at a time) for synchronous recall from N = 256 on, else all cues.

        Measured on a 2-core CPU with jaxlib 0.10.2 (Hebbian rule, loads up to 0.3):
        one cue at a time was about 3 times faster at N = 500 and about 4 times at
        N = 1000, and similar at N = 128 to 256.
        """
        if isinstance(self.update, Synchronous) and n_neurons >= 256:
            return 1
        return n_cues


class DenseModel(AbstractMemoryModel):
    """Dense associative memory of a given degree (4: the neuron-astrocyte reduction).

    **Arguments:**

    - `degree`: degree of the energy (static).
    - `dilution`: `None`, `RandomDilution(keep)` or `MagnitudePruning(keep)`. It
      masks the pairwise synapses $(i, j)$; magnitude pruning ranks them by the
      Hebbian sum $|\\sum_\\mu \\xi_i^\\mu \\xi_j^\\mu|$ (our choice: the synapse
      values of the astrocyte model change with the state, this sum does not).
    - `update`, `max_sweeps`: as for `HopfieldModel`.
    """

    degree: int = eqx.field(static=True, default=4)
    dilution: AbstractDilution | None = None
    update: AbstractUpdate = Synchronous()
    max_sweeps: int = 100

    def __check_init__(self):
        check_positive_int("max_sweeps", self.max_sweeps, "pass a bound such as 100")

    def check_load(self, n_patterns, n_neurons):
        check_dense_load(n_patterns, n_neurons, self.degree)

    def build(self, patterns, pattern_mask, *, key):
        synapse_mask = None
        if self.dilution is not None:
            hebbian = (patterns * pattern_mask[:, None]).T @ patterns
            synapse_mask = self.dilution.mask(hebbian, key=key)
        return DenseAssociativeMemory(patterns, pattern_mask, synapse_mask, degree=self.degree)

    def recall_state(self, memory, cue, *, key):
        result = self.update.run(memory, cue, self.max_sweeps, key)
        return result.state, result.status


class NeuronAstrocyteModel(AbstractMemoryModel):
    """The neuron-astrocyte ODE model, recalled with `diffrax.diffeqsolve`.

    **Arguments:**

    - `beta`, `tau_n`, `tau_s`, `tau_p`: as in `NeuronAstrocyteMemory`.
    - `t1`: end time of a recall (units of $\\tau_n$).
    - `max_steps`: solver step limit; a recall that hits it reports
      `RecallStatus.SOLVER_FAILED`.
    """

    beta: float = 5.0
    tau_n: float = 1.0
    tau_s: float = 1.0
    tau_p: float = 1.0
    t1: float = 50.0
    max_steps: int = 4096

    def check_load(self, n_patterns, n_neurons):
        check_dense_load(n_patterns, n_neurons, 4)

    def build(self, patterns, pattern_mask, *, key):
        del key
        return NeuronAstrocyteMemory(patterns, pattern_mask, self.beta, self.tau_n, self.tau_s, self.tau_p)

    def recall_state(self, memory: NeuronAstrocyteMemory, cue, *, key):
        del key
        result = memory.recall(
            cue, t1=self.t1, stepsize_controller=diffrax.PIDController(rtol=1e-4, atol=1e-6), max_steps=self.max_steps
        )
        status = jnp.where(result.solved, RecallStatus.END_TIME, RecallStatus.SOLVER_FAILED)
        return result.state, status.astype(jnp.int32)


def dynamic_floats(model: eqx.Module) -> eqx.Module:
    """Return `model` with its Python-float fields turned into JAX scalars.

    Inside `eqx.filter_jit` Python floats are static, so every new value (a new
    keep fraction, say) would compile again; scalar arrays are traced instead.
    """
    return jax.tree.map(lambda leaf: jnp.asarray(leaf, dtype=jnp.float32) if isinstance(leaf, float) else leaf, model)
