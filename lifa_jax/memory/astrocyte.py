"""Neuron-astrocyte associative memory: neurons, synapses and astrocyte processes."""

import diffrax
import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, Int

from .base import check_patterns, check_spins, check_state_shape, is_concrete
from .dense import check_dense_load


def astrocyte_coupling(
    patterns: Float[ArrayLike, "patterns neurons"],
    psi: Float[ArrayLike, "neurons neurons"],
    pattern_mask: Float[ArrayLike, " patterns"] | None = None,
) -> Float[Array, "neurons neurons"]:
    r"""Apply the fourth-order astrocyte coupling to process activities $\psi$.

    $$\sum_{kl} T_{ijkl}\, \psi_{kl} = N^{-3} \sum_\mu \xi_i^\mu \xi_j^\mu
      \left(\xi^{\mu\top} \psi\, \xi^\mu\right), \qquad
      T_{ijkl} = N^{-3} \sum_\mu \xi_i^\mu \xi_j^\mu \xi_k^\mu \xi_l^\mu$$

    The right-hand side costs $O(K N^2)$ time and $O(K N)$ memory; the tensor $T$
    ($N^4$ entries) is never built.

    **Arguments:**

    - `patterns`: stored patterns $\xi$, shape `(patterns, neurons)`.
    - `psi`: process activities, shape `(neurons, neurons)`.
    - `pattern_mask`: optional 0/1 per pattern; rows marked 0 do not contribute.

    **Returns:** the coupled input to every process, shape `(neurons, neurons)`.
    """
    patterns = jnp.asarray(patterns, dtype=jnp.float32)
    n = patterns.shape[1]
    # q_mu = xi^mu^T psi xi^mu for every memory, in O(K N^2).
    quadratic = jnp.sum((patterns @ psi) * patterns, axis=1)
    if pattern_mask is not None:
        quadratic = quadratic * pattern_mask
    return (patterns.T * quadratic) @ patterns / n**3


def astrocyte_coupling_tensor(patterns: Float[ArrayLike, "patterns neurons"]) -> Float[Array, "n n n n"]:
    r"""Return the explicit tensor $T_{ijkl} = N^{-3} \sum_\mu \xi_i \xi_j \xi_k \xi_l$.

    NOTE: $N^4$ entries; meant for checking `astrocyte_coupling` on tiny networks.
    """
    patterns = jnp.asarray(patterns, dtype=jnp.float32)
    n = patterns.shape[1]
    return jnp.einsum("mi,mj,mk,ml->ijkl", patterns, patterns, patterns, patterns) / n**3


class AstrocyteRecallResult(eqx.Module):
    """Outcome of one recall of the neuron-astrocyte memory.

    **Fields:**

    - `state`: $\\operatorname{sign}(x(t_1))$, shape `(neurons,)`.
    - `x`: neuron variables at $t_1$, shape `(neurons,)`.
    - `solved`: True when the solver reached $t_1$ (False on step-count overflow or
      a failed step; the rest of a vmapped batch is unaffected).
    - `num_steps`: accepted solver steps.
    """

    state: Float[Array, " neurons"]
    x: Float[Array, " neurons"]
    solved: Bool[Array, ""]
    num_steps: Int[Array, ""]


class NeuronAstrocyteMemory(eqx.Module):
    r"""Neuron-astrocyte associative memory of Kozachkov, Slotine & Krotov.

    Neurons $x_i$, synapses $S_{ij}$ and astrocyte processes $P_{ij}$ (one per
    synapse) evolve as

    $$\tau_n \dot x_i = -x_i + \sum_j g(S_{ij})\, \phi(x_j)$$
    $$\tau_s \dot S_{ij} = -S_{ij} + \phi(x_i) \phi(x_j) + \psi(P_{ij})$$
    $$\tau_p \dot P_{ij} = -P_{ij} + \sum_{kl} T_{ijkl}\, \psi(P_{kl}) + g(S_{ij})$$

    with $\phi = g = \psi = \tanh(\beta\,\cdot)$ and the memories in the astrocyte
    coupling $T_{ijkl} = N^{-3} \sum_\mu \xi_i^\mu \xi_j^\mu \xi_k^\mu \xi_l^\mu$,
    applied by `astrocyte_coupling` in $O(K N^2)$. Recall starts from a cue
    $x(0) = s$ with the processes and synapses on the manifold
    $\psi(P) = -\phi(x)\phi(x)^\top$, $g(S) = \sum_{kl} T_{ijkl}\,\phi_k \phi_l$, where
    the neuron input $\sum_j g(S_{ij}) \phi(x_j) = N^{-3} \sum_\mu \xi_i^\mu
    (\xi^\mu \cdot \phi)^3$ is the field of the quartic `DenseAssociativeMemory`.

    The equations, the tanh nonlinearities, the gain $\beta = 5$, equal time
    constants and this initial manifold follow the public tutorial notebook of
    github.com/briansebzhou/naam, which implements the model of Kozachkov, Slotine
    & Krotov, "Neuron-astrocyte associative memory", arXiv 2311.08135 (PNAS 2025).
    Time is dimensionless, in units of $\tau_n$.

    The dynamics descend the energy returned by `energy`, for any positive time
    constants. The initial manifold is not a fixed point, so the state leaves it,
    and the energy falls until the state settles at a fixed point.

    NOTE: with these equations the synapses leave that manifold within about two
    units of time: measured at N = 32, K = 60, $g(S)$ correlated 1.0 with
    $\sum_{kl} T_{ijkl} \phi_k \phi_l$ at $t = 0$ and 0.995 with
    $\phi\phi^\top$ (saturated at $\pm 1$) at $t = 2$, a Hebbian imprint of the
    current state that freezes it: every saturated state $\sigma$ is close to a
    fixed point with $g(S) = \psi(P) = \sigma\sigma^\top$, because the coupling
    $T$ adds only $O(1/N)$ there. Recall therefore has to happen before the
    imprint, and slow processes leave it more time. From cues with 10 %
    flipped bits at N = 32 (4 trials x 8 cues), mean quality at
    K = 10, 60, 150 and 300 was 1.00, 0.97, 0.91 and 0.83 with equal time
    constants, 1.00, 1.00, 0.97 and 0.94 with `tau_p = 10`, and 1.00, 1.00, 0.97
    and 0.85 for the quartic `DenseAssociativeMemory`. With `tau_s = tau_p = 0.1`
    every cue stayed where it started (quality 0.81). Capacity studies use
    `DenseAssociativeMemory`, and this class is the dynamical model.

    **Arguments:**

    - `patterns`: stored patterns, shape `(patterns, neurons)`, entries in {-1, +1}.
    - `pattern_mask`: optional 0/1 per pattern (default all 1).
    - `beta`: gain of the tanh nonlinearities (dimensionless).
    - `tau_n`, `tau_s`, `tau_p`: time constants of neurons, synapses and processes
      (in units of $\tau_n$).
    """

    patterns: Float[Array, "patterns neurons"]
    pattern_mask: Float[Array, " patterns"]
    beta: float = 5.0
    tau_n: float = 1.0
    tau_s: float = 1.0
    tau_p: float = 1.0

    def __init__(
        self,
        patterns: Float[ArrayLike, "patterns neurons"],
        pattern_mask: Float[ArrayLike, " patterns"] | None = None,
        beta: float = 5.0,
        tau_n: float = 1.0,
        tau_s: float = 1.0,
        tau_p: float = 1.0,
    ):
        check_patterns(patterns)
        n_patterns, n_neurons = np.shape(patterns)
        if pattern_mask is None:
            pattern_mask = np.ones(n_patterns, dtype=np.float32)
        if np.shape(pattern_mask) != (n_patterns,):
            raise ValueError(
                f"pattern_mask must have shape ({n_patterns},), got {np.shape(pattern_mask)}; "
                "pass a 0/1 vector with one entry per pattern."
            )
        if is_concrete(pattern_mask):
            check_dense_load(int(np.sum(np.asarray(pattern_mask) != 0)), n_neurons, 4)
        for name, value in (("beta", beta), ("tau_n", tau_n), ("tau_s", tau_s), ("tau_p", tau_p)):
            if isinstance(value, int | float) and not value > 0:
                raise ValueError(f"{name} must be positive, got {value!r}; pass a value > 0.")
        self.patterns = jnp.asarray(patterns, dtype=jnp.float32)
        self.pattern_mask = jnp.asarray(pattern_mask, dtype=jnp.float32)
        self.beta = beta
        self.tau_n = tau_n
        self.tau_s = tau_s
        self.tau_p = tau_p

    @property
    def n_neurons(self) -> int:
        return self.patterns.shape[1]

    def vector_field(self, t, y, args):
        """Return $(\\dot x, \\dot S, \\dot P)$ for the state `y = (x, S, P)`."""
        del t, args
        x, synapse, process = y
        phi = jnp.tanh(self.beta * x)
        g = jnp.tanh(self.beta * synapse)
        psi = jnp.tanh(self.beta * process)
        dx = (-x + g @ phi) / self.tau_n
        ds = (-synapse + jnp.outer(phi, phi) + psi) / self.tau_s
        dp = (-process + astrocyte_coupling(self.patterns, psi, self.pattern_mask) + g) / self.tau_p
        return dx, ds, dp

    def energy(self, y) -> Float[Array, ""]:
        r"""Return the energy $E(x, S, P)$ that the dynamics descend.

        $$E = 2 \sum_i \left[x_i \phi_i - L(x_i)\right]
              + \sum_{ij} \left[S_{ij} g_{ij} - L(S_{ij})\right]
              + \sum_{ij} \left[P_{ij} \psi_{ij} - L(P_{ij})\right]
              - \sum_{ij} g_{ij} \phi_i \phi_j - \sum_{ij} g_{ij} \psi_{ij}
              - \frac12 \sum_{ijkl} \psi_{ij} T_{ijkl} \psi_{kl}$$

        with the Lagrangian $L(v) = \beta^{-1} \log\cosh(\beta v)$, whose
        derivative is the activation $\tanh(\beta v)$. For symmetric $S$ and $P$
        (the flow keeps them symmetric, and `initial_state` starts them so)

        $$\frac{dE}{dt} = -2 \tau_n \sum_i \phi'(x_i)\, \dot x_i^2
            - \tau_s \sum_{ij} g'(S_{ij})\, \dot S_{ij}^2
            - \tau_p \sum_{ij} \psi'(P_{ij})\, \dot P_{ij}^2 \le 0.$$

        The factor 2 on the neuron term makes the neuron equation the gradient
        of the pairwise term, which counts each pair $(i, j)$ twice. We derived
        this energy for the equations above; it is zero at $x = S = P = 0$.

        **Arguments:**

        - `y`: the state `(x, S, P)`, shapes `(neurons,)`, `(neurons, neurons)`
          and `(neurons, neurons)`.

        **Returns:** the energy, a scalar (dimensionless).
        """
        x, synapse, process = y
        phi = jnp.tanh(self.beta * x)
        g = jnp.tanh(self.beta * synapse)
        psi = jnp.tanh(self.beta * process)

        def legendre(v, activation):
            # v tanh(beta v) - log cosh(beta v) / beta, with a log cosh that does
            # not overflow for large beta v.
            log_cosh = jnp.logaddexp(self.beta * v, -self.beta * v) - jnp.log(2.0)
            return jnp.sum(v * activation - log_cosh / self.beta)

        coupled = astrocyte_coupling(self.patterns, psi, self.pattern_mask)
        interaction = -phi @ g @ phi - jnp.sum(g * psi) - 0.5 * jnp.sum(psi * coupled)
        return 2.0 * legendre(x, phi) + legendre(synapse, g) + legendre(process, psi) + interaction

    def initial_state(self, cue: Float[ArrayLike, " neurons"]):
        """Return `(x, S, P)` at the cue, with synapses and processes on the recall manifold."""
        x = jnp.asarray(cue, dtype=jnp.float32)
        phi = jnp.tanh(self.beta * x)
        psi = -jnp.outer(phi, phi)
        # arctanh needs |argument| < 1; coupled inputs beyond that saturate g.
        bound = 1.0 - 1e-6
        process = jnp.arctanh(jnp.clip(psi, -bound, bound)) / self.beta
        target = -astrocyte_coupling(self.patterns, psi, self.pattern_mask)
        synapse = jnp.arctanh(jnp.clip(target, -bound, bound)) / self.beta
        return x, synapse, process

    def recall(
        self,
        cue: Float[ArrayLike, " neurons"],
        *,
        t1: float = 50.0,
        solver: diffrax.AbstractSolver = diffrax.Tsit5(),
        stepsize_controller: diffrax.AbstractStepSizeController = diffrax.PIDController(rtol=1e-4, atol=1e-6),
        dt0: float = 0.05,
        max_steps: int = 4096,
    ) -> AstrocyteRecallResult:
        """Integrate the model from `cue` to `t1` with `diffrax.diffeqsolve`.

        **Arguments:**

        - `cue`: starting neuron state, shape `(neurons,)`, entries in {-1, +1}.
        - `t1`: end time (units of $\\tau_n$).
        - `solver`, `stepsize_controller`, `dt0`, `max_steps`: passed to
          `diffrax.diffeqsolve`.

        **Returns:** an `AstrocyteRecallResult`; a failed solve is reported in
        `solved`, not raised, so a vmapped batch keeps its other results.
        """
        check_state_shape(cue, self.n_neurons, "cue")
        check_spins(cue, "cue")
        if isinstance(t1, int | float) and not t1 > 0:
            raise ValueError(f"t1 must be positive, got {t1!r}; pass an end time such as 50.")

        solution = diffrax.diffeqsolve(
            diffrax.ODETerm(self.vector_field),
            solver,
            t0=0.0,
            t1=t1,
            dt0=dt0,
            y0=self.initial_state(cue),
            stepsize_controller=stepsize_controller,
            saveat=diffrax.SaveAt(t1=True),
            max_steps=max_steps,
            throw=False,
        )
        x = solution.ys[0][-1]
        return AstrocyteRecallResult(
            state=jnp.where(x >= 0, 1.0, -1.0),
            x=x,
            solved=solution.result == diffrax.RESULTS.successful,
            num_steps=jnp.asarray(solution.stats["num_accepted_steps"], dtype=jnp.int32),
        )


def neuron_input_on_manifold(
    memory: NeuronAstrocyteMemory, cue: Float[ArrayLike, " neurons"]
) -> Float[Array, " neurons"]:
    """Return $\\sum_j g(S_{ij}) \\phi(x_j)$ at the initial state of a recall from `cue`."""
    x, synapse, _ = memory.initial_state(cue)
    return jnp.tanh(memory.beta * synapse) @ jnp.tanh(memory.beta * x)
