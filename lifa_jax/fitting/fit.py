"""Fit LIFA circuit parameters to recorded traces with Optax."""

import functools
from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float

from .models import DrivenCircuit, TraceTarget
from .parameters import FitParameters, check_parameter_names
from .simulators import AbstractSimulator, SmoothSolver


def trace_loss(
    parameters: FitParameters,
    circuit: DrivenCircuit,
    targets: Sequence[TraceTarget],
    simulator: AbstractSimulator,
) -> Float[Array, ""]:
    r"""Return the weighted, normalised mean squared error of the simulated traces.

    $$L = \sum_j w_j \frac{1}{n_j} \sum_k \big(\hat y_j(t_{jk}) - y_{jk}\big)^2 / s_j^2$$

    **Arguments:**

    - `parameters`: the `FitParameters`, written into `circuit` before simulating.
    - `circuit`: the `DrivenCircuit` that contains every parameter not fitted.
    - `targets`: the `TraceTarget`s.
    - `simulator`: a `SmoothSolver` or a `DiscreteStepper`.
    """
    predictions = simulator.observe(parameters.apply(circuit), targets)
    terms = [
        target.weight * jnp.mean((prediction - target.values) ** 2) / target.scale**2
        for prediction, target in zip(predictions, targets)
    ]
    return jnp.sum(jnp.stack(terms))


class FitResult(eqx.Module):
    """Result of `fit_circuit`.

    **Fields:**

    - `parameters`: the fitted `FitParameters`.
    - `circuit`: the circuit with the fitted values written in.
    - `values`: fitted value of each parameter, by name, as Python floats.
    - `initial_values`: starting value of each parameter, by name.
    - `losses`: loss before each update and after the last one, shape `(iterations + 1,)`.
    - `iterations`: iterations run.
    - `converged`: true when the gradient norm fell below `gradient_tolerance`.
    - `status`: `"converged"`, `"max_iterations"` or `"non_finite_loss"`.
    """

    parameters: FitParameters
    circuit: DrivenCircuit
    values: dict[str, float]
    initial_values: dict[str, float]
    losses: np.ndarray
    iterations: int
    converged: bool
    status: str


@functools.cache
def default_optimizer(max_iterations: int, learning_rate: float = 0.1) -> optax.GradientTransformation:
    """Return Adam whose step size falls from `learning_rate` to 0 on a cosine over `max_iterations`.

    The step size acts on unconstrained numbers that start near 1 (see
    `lifa_jax.fitting.parameters`), so 0.1 moves a parameter by up to about 10 %
    per iteration early on, and the decay lets the fit settle precisely. Instances
    are cached, so repeated fits with the same settings reuse one compilation.
    L-BFGS (`optax.lbfgs()`) needs fewer iterations on smooth losses but compiles
    the solver's gradient twice, once more inside its line search.
    """
    return optax.adam(optax.cosine_decay_schedule(learning_rate, max(max_iterations, 1)))


def fit_circuit(
    circuit: DrivenCircuit,
    targets: Sequence[TraceTarget],
    parameters: Sequence[str] | FitParameters,
    *,
    simulator: AbstractSimulator | None = None,
    optimizer: optax.GradientTransformation | None = None,
    max_iterations: int = 500,
    gradient_tolerance: float = 1e-6,
    progress: Callable[[int, float], None] | None = None,
) -> FitResult:
    """Fit parameters of `circuit` so that its simulated traces match `targets`.

    Each iteration evaluates `trace_loss` and its gradient with respect to the
    unconstrained numbers of `FitParameters` and applies one `optimizer` update.
    The loop stops after `max_iterations`, when the gradient norm falls below
    `gradient_tolerance`, or when the loss is not finite.

    **Arguments:**

    - `circuit`: the starting `DrivenCircuit`; its values start the fit and fix the
      parameters not fitted.
    - `targets`: `TraceTarget`s, checked by the simulator before any work.
    - `parameters`: names from `lifa_jax.fitting.PARAMETERS`, or `FitParameters`
      with custom starting values or transforms.
    - `simulator`: `SmoothSolver()` by default, or a `DiscreteStepper`.
    - `optimizer`: an Optax transformation; `default_optimizer(max_iterations)`
      (Adam, cosine-decayed step size) by default. Optimisers that take `value`,
      `grad` and `value_fn` (line searches such as `optax.lbfgs()`) receive them.
    - `max_iterations`: maximum number of optimiser updates.
    - `gradient_tolerance`: stop when the gradient norm (unconstrained units) is below this.
    - `progress`: called as `progress(iteration, loss)` after each iteration.

    **Returns:** a `FitResult`.
    """
    if not (isinstance(max_iterations, int) and max_iterations >= 0):
        raise ValueError(f"max_iterations must be a non-negative integer, got {max_iterations!r}.")
    simulator = SmoothSolver() if simulator is None else simulator
    optimizer = default_optimizer(max_iterations) if optimizer is None else optimizer
    targets = tuple(targets)
    if not isinstance(parameters, FitParameters):
        parameters = FitParameters.from_model(circuit, check_parameter_names(parameters))
    simulator.check(targets)

    initial_values = {name: float(value) for name, value in parameters.values().items()}
    opt_state = optimizer.init(parameters)
    losses, status = [], "max_iterations"
    for iteration in range(max_iterations):
        parameters, opt_state, loss, gradient_norm = _fit_step(
            parameters, opt_state, circuit, targets, simulator, optimizer
        )
        loss = float(loss)
        losses.append(loss)
        if progress is not None:
            progress(iteration, loss)
        if not np.isfinite(loss):
            status = "non_finite_loss"
            break
        if float(gradient_norm) < gradient_tolerance:
            status = "converged"
            break
    # One more call of the compiled step gives the final loss; its update is discarded.
    _, _, final_loss, _ = _fit_step(parameters, opt_state, circuit, targets, simulator, optimizer)
    losses.append(float(final_loss))

    return FitResult(
        parameters=parameters,
        circuit=parameters.apply(circuit),
        values={name: float(value) for name, value in parameters.values().items()},
        initial_values=initial_values,
        losses=np.asarray(losses),
        iterations=len(losses) - 1,
        converged=status == "converged",
        status=status,
    )


@eqx.filter_jit
def _fit_step(parameters, opt_state, circuit, targets, simulator, optimizer):
    """Return the updated parameters and state, the loss before the update and its gradient norm."""

    def loss_fn(p):
        return trace_loss(p, circuit, targets, simulator)

    if optax.tree.get(opt_state, "value") is not None:
        # Line searches store the value and gradient at the accepted point, so reuse them.
        loss, grads = optax.value_and_grad_from_state(loss_fn)(parameters, state=opt_state)
    else:
        loss, grads = jax.value_and_grad(loss_fn)(parameters)
    updates, opt_state = optimizer.update(grads, opt_state, parameters, value=loss, grad=grads, value_fn=loss_fn)
    parameters = optax.apply_updates(parameters, updates)
    return parameters, opt_state, loss, optax.tree.norm(grads)
