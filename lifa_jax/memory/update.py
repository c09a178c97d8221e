"""Recall dynamics: synchronous and asynchronous sign updates with a bounded loop."""

import abc

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from .base import (
    AbstractAssociativeMemory,
    RecallResult,
    RecallStatus,
    check_positive_int,
    check_spins,
    check_state_shape,
    sign_update,
)


class AbstractUpdate(eqx.Module):
    """Order in which neurons are updated during recall."""

    needs_key: eqx.AbstractClassVar[bool]

    @abc.abstractmethod
    def run(
        self,
        memory: AbstractAssociativeMemory,
        cue: Float[Array, " neurons"],
        max_sweeps: int,
        key: PRNGKeyArray | None,
    ) -> RecallResult:
        """Run sweeps from `cue` until a fixed point, a 2-cycle or `max_sweeps`."""


class Synchronous(AbstractUpdate):
    r"""All neurons updated at once: $s(t+1) = \operatorname{sign}(h(s(t)))$.

    Stops at a fixed point ($s(t+1) = s(t)$) or a 2-cycle
    ($s(t+1) = s(t-1) \ne s(t)$): with symmetric weights synchronous dynamics
    end in one of the two, unlike asynchronous dynamics, which end in a fixed point.
    Needs no key.
    """

    needs_key = False

    def run(self, memory, cue, max_sweeps, key):
        del key

        def keep_going(carry):
            _, _, sweeps, status = carry
            return (status == RecallStatus.MAX_SWEEPS) & (sweeps < max_sweeps)

        def sweep(carry):
            state, previous, sweeps, _ = carry
            new = sign_update(memory.field(state), state)
            fixed = jnp.all(new == state)
            # `previous` equals `state` before the first sweep, so a 2-cycle can
            # only be reported from the second sweep on.
            cycle = (sweeps >= 1) & jnp.all(new == previous) & ~fixed
            status = jnp.where(
                fixed,
                RecallStatus.FIXED_POINT,
                jnp.where(cycle, RecallStatus.TWO_CYCLE, RecallStatus.MAX_SWEEPS),
            )
            return new, state, sweeps + 1, status.astype(jnp.int32)

        start = (cue, cue, jnp.int32(0), jnp.int32(RecallStatus.MAX_SWEEPS))
        state, _, sweeps, status = jax.lax.while_loop(keep_going, sweep, start)
        return RecallResult(state=state, status=status, sweeps=sweeps)


class Asynchronous(AbstractUpdate):
    r"""One neuron at a time, in a fresh random order each sweep.

    $$s_{\pi(k)} \leftarrow \operatorname{sign}(h_{\pi(k)}(s)), \quad k = 1 \dots N$$

    with $\pi$ a permutation drawn from the key for each sweep. With symmetric
    weights and zero diagonal the energy $-\frac12 s^\top W s$ never rises, so the
    dynamics reach a fixed point; diluted (asymmetric) weights may cycle, which ends
    with `RecallStatus.MAX_SWEEPS`. Needs a key.
    """

    needs_key = True

    def run(self, memory, cue, max_sweeps, key):
        n = cue.shape[0]

        def keep_going(carry):
            _, sweeps, status = carry
            return (status == RecallStatus.MAX_SWEEPS) & (sweeps < max_sweeps)

        def sweep(carry):
            state, sweeps, _ = carry
            order = jax.random.permutation(jax.random.fold_in(key, sweeps), n)

            def update_one(k, inner):
                state, changed = inner
                i = order[k]
                new = sign_update(memory.local_field(state, i), state[i])
                return state.at[i].set(new), changed | (new != state[i])

            state, changed = jax.lax.fori_loop(0, n, update_one, (state, jnp.bool_(False)))
            status = jnp.where(changed, RecallStatus.MAX_SWEEPS, RecallStatus.FIXED_POINT)
            return state, sweeps + 1, status.astype(jnp.int32)

        start = (cue, jnp.int32(0), jnp.int32(RecallStatus.MAX_SWEEPS))
        state, sweeps, status = jax.lax.while_loop(keep_going, sweep, start)
        return RecallResult(state=state, status=status, sweeps=sweeps)


def recall(
    memory: AbstractAssociativeMemory,
    cue: Float[ArrayLike, " neurons"],
    *,
    update: AbstractUpdate = Synchronous(),
    max_sweeps: int = 100,
    key: PRNGKeyArray | None = None,
) -> RecallResult:
    """Recall a stored pattern from `cue` by repeated sign updates.

    **Arguments:**

    - `memory`: a `HopfieldNetwork`, `DenseAssociativeMemory` or other
      `AbstractAssociativeMemory`.
    - `cue`: starting state, shape `(neurons,)`, entries in {-1, +1}.
    - `update`: `Synchronous()` (default) or `Asynchronous()`.
    - `max_sweeps`: bound on the number of sweeps (a Python int >= 1).
    - `key`: required by `Asynchronous()`, which draws its update orders from it.

    **Returns:** a `RecallResult` with the final state, a `RecallStatus` code and
    the number of sweeps. The loop always ends: at the latest after `max_sweeps`.
    Call it under `jax.vmap` for many cues.
    """
    check_state_shape(cue, memory.n_neurons, "cue")
    check_spins(cue, "cue")
    check_positive_int("max_sweeps", max_sweeps, "pass a bound such as 100")
    if update.needs_key and key is None:
        raise ValueError(
            f"{type(update).__name__}() draws a random update order and needs a key; pass key=jax.random.key(seed)."
        )

    cue = jnp.asarray(cue, dtype=jnp.float32)
    return _run(update, memory, cue, max_sweeps, key)


@eqx.filter_jit
def _run(update, memory, cue, max_sweeps, key):
    # Compiled once per memory type, shape and max_sweeps (a static int here).
    return update.run(memory, cue, max_sweeps, key)
