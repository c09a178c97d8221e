"""Surrogate-gradient training of spiking networks with Optax."""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, Int, PRNGKeyArray

from .._checks import check_class_labels, check_key
from ..dynamics.base import check_positive
from ..network import AbstractEncoder, NetworkFaults, RegularEncoder, SpikingNetwork, predict, simulate
from .surrogate import AbstractSurrogate, FastSigmoid


class TrainConfig(eqx.Module):
    """Settings of surrogate-gradient training.

    - `steps`: simulation steps per sample (T).
    - `epochs`, `batch_size`: passes over the training set and samples per update.
    - `learning_rate`: Adam step size.
    - `readout_scale`: logits are `readout_scale * output spike counts`.
    - `rate_target`, `rate_weight`: a penalty `rate_weight * (mean hidden rate -
      rate_target)^2` (spikes per step) keeps hidden layers active, which the
      per-neuron repair set-points need.
    - `surrogate`, `encoder`: spike function for gradients and input encoder.
    - `fault`, `fault_masks`, `fault_weight`: fault-aware training. With a fault
      kind (for example `NeuronDead(0.2)`), every update draws `fault_masks` fresh
      masks and the loss is `(1 - fault_weight) * clean loss + fault_weight *
      mean faulty loss`, all masks vmapped inside the step.
    """

    steps: int = eqx.field(static=True, default=20)
    epochs: int = eqx.field(static=True, default=30)
    batch_size: int = eqx.field(static=True, default=64)
    learning_rate: float = 0.05
    readout_scale: float = 0.5
    rate_target: float = 0.05
    rate_weight: float = 1.0
    surrogate: AbstractSurrogate = FastSigmoid()
    encoder: AbstractEncoder = RegularEncoder()
    fault: object | None = None
    fault_masks: int = eqx.field(static=True, default=4)
    fault_weight: float = 0.5

    def __check_init__(self):
        check_positive("steps", self.steps, "pass the number of simulation steps T")
        check_positive("epochs", self.epochs, "pass at least one epoch")
        check_positive("batch_size", self.batch_size, "pass at least one sample per batch")
        check_positive("learning_rate", self.learning_rate, "pass a positive step size")
        check_positive("fault_masks", self.fault_masks, "pass at least one mask per update")
        if isinstance(self.fault_weight, float | int) and not 0.0 <= self.fault_weight <= 1.0:
            raise ValueError(f"fault_weight must lie in [0, 1], got {self.fault_weight!r}; 0.5 weighs both equally.")


def encode_batch(encoder: AbstractEncoder, x: Float[Array, "batch features"], steps: int, key: PRNGKeyArray) -> Array:
    """Encode a batch of samples, one key per sample."""
    keys = jax.random.split(key, x.shape[0])
    return jax.vmap(lambda xi, k: encoder(xi, steps, key=k))(x, keys)


def batch_loss(
    network: SpikingNetwork,
    spikes: Array,
    labels: Int[Array, " batch"],
    config: TrainConfig,
    key: PRNGKeyArray | None = None,
):
    """Return the training loss and the fault-free accuracy of a batch.

    The loss is the mean cross-entropy of `readout_scale * output counts` plus the
    hidden-activity penalty; with `config.fault` it mixes in the mean loss over
    `config.fault_masks` masks drawn from `key`.
    """
    clean, accuracy = _loss_under(network, spikes, labels, config, None)
    if config.fault is None:
        return clean, accuracy
    if key is None:
        raise ValueError("fault-aware training needs a key for the masks; pass key=jax.random.key(...).")

    from ..faults.specs import draw_faults

    def faulty(k):
        return _loss_under(network, spikes, labels, config, draw_faults(network, config.fault, key=k))[0]

    faulty_loss = jnp.mean(jax.vmap(faulty)(jax.random.split(key, config.fault_masks)))
    return (1.0 - config.fault_weight) * clean + config.fault_weight * faulty_loss, accuracy


def _loss_under(network, spikes, labels, config, faults):
    def one(sample):
        return simulate(network, sample, faults=faults, spike_fn=config.surrogate)

    results = jax.vmap(one)(spikes)
    logits = config.readout_scale * results.counts[-1]
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    hidden = [c.mean() / config.steps for c in results.counts[:-1]]
    penalty = sum((r - config.rate_target) ** 2 for r in hidden) if hidden else 0.0
    accuracy = (jnp.argmax(results.counts[-1] + jax.nn.sigmoid(results.output_membrane), axis=-1) == labels).mean()
    return ce + config.rate_weight * penalty, accuracy


def make_train_step(config: TrainConfig, optimizer: optax.GradientTransformation):
    """Return a jitted `(network, opt_state, x, y, key) -> (network, opt_state, loss, acc)`."""

    @eqx.filter_jit
    def train_step(network, opt_state, x, y, key):
        encode_key, mask_key = jax.random.split(key)
        spikes = encode_batch(config.encoder, x, config.steps, encode_key)
        (loss, acc), grads = eqx.filter_value_and_grad(batch_loss, has_aux=True)(network, spikes, y, config, mask_key)
        updates, opt_state = optimizer.update(grads, opt_state, eqx.filter(network, eqx.is_inexact_array))
        network = eqx.apply_updates(network, updates)
        return network, opt_state, loss, acc

    return train_step


def train(
    network: SpikingNetwork,
    x_train: np.ndarray,
    y_train: np.ndarray,
    config: TrainConfig,
    *,
    key: PRNGKeyArray,
    progress: Callable[[int, dict], None] | None = None,
) -> tuple[SpikingNetwork, dict]:
    """Train `network` by backpropagation through time with a surrogate gradient.

    Only inexact arrays (the weights) are trained; neuron and astrocyte parameters
    stored as Python floats stay fixed.

    **Arguments:**

    - `x_train`: `(samples, features)` in [0, 1]; `y_train`: integer labels.
    - `config`: a `TrainConfig`.
    - `key`: PRNG key for shuffling and encoding.
    - `progress`: called after each epoch as `progress(epoch, {"loss": ..., "accuracy": ...})`.

    **Returns:** `(trained_network, history)` with per-epoch mean loss and accuracy.
    """
    check_key("key", key)
    _check_features("x_train", x_train, network.topology[0])
    check_class_labels("y_train", y_train, int(np.shape(x_train)[0]), network.topology[-1])
    x_train = jnp.asarray(x_train, dtype=jnp.float32)
    y_train = jnp.asarray(y_train, dtype=jnp.int32)
    n = x_train.shape[0]
    if n < config.batch_size:
        raise ValueError(f"batch_size={config.batch_size} exceeds the {n} training samples; lower batch_size.")

    optimizer = optax.adam(config.learning_rate)
    opt_state = optimizer.init(eqx.filter(network, eqx.is_inexact_array))
    train_step = make_train_step(config, optimizer)
    n_batches = n // config.batch_size
    history = {"loss": [], "accuracy": []}

    for epoch in range(config.epochs):
        key, perm_key = jax.random.split(key)
        order = jax.random.permutation(perm_key, n)
        losses, accs = [], []
        for b in range(n_batches):
            idx = order[b * config.batch_size : (b + 1) * config.batch_size]
            key, step_key = jax.random.split(key)
            network, opt_state, loss, acc = train_step(network, opt_state, x_train[idx], y_train[idx], step_key)
            losses.append(loss)
            accs.append(acc)
        history["loss"].append(float(jnp.mean(jnp.stack(losses))))
        history["accuracy"].append(float(jnp.mean(jnp.stack(accs))))
        if progress is not None:
            progress(epoch, {"loss": history["loss"][-1], "accuracy": history["accuracy"][-1]})
    return network, history


def _check_features(name: str, x, features: int) -> None:
    shape = tuple(np.shape(x))
    if len(shape) != 2 or shape[1] != features:
        raise ValueError(
            f"{name} must have shape (samples, {features}), one flattened sample per row, got {shape}; "
            "reshape with x.reshape(len(x), -1)."
        )


def evaluate(
    network: SpikingNetwork,
    x: np.ndarray,
    y: np.ndarray,
    *,
    steps: int,
    encoder: AbstractEncoder,
    key: PRNGKeyArray,
    faults: NetworkFaults | None = None,
    gains: tuple[Array, ...] | None = None,
) -> Array:
    """Return the accuracy of `network` on `(x, y)`; the same key gives the same input spikes.

    `x` contains one sample per row, `(samples, topology[0])` in [0, 1]; `y` one
    integer class per sample.
    """
    check_key("key", key)
    check_positive("steps", steps, "pass the number of simulation steps T")
    _check_features("x", x, network.topology[0])
    check_class_labels("y", y, int(np.shape(x)[0]), network.topology[-1])
    spikes = encode_batch(encoder, jnp.asarray(x, dtype=jnp.float32), steps, key)
    preds = jax.vmap(lambda s: predict(simulate(network, s, faults=faults, gains=gains)))(spikes)
    return jnp.mean(preds == jnp.asarray(y))
