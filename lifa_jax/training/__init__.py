"""Surrogate-gradient training."""

from .surrogate import (
    SURROGATES,
    AbstractSurrogate,
    Arctan,
    FastSigmoid,
    Sigmoid,
    Triangle,
    surrogate_from_name,
)
from .train import TrainConfig, batch_loss, encode_batch, evaluate, make_train_step, train

__all__ = [
    "SURROGATES",
    "AbstractSurrogate",
    "Arctan",
    "FastSigmoid",
    "Sigmoid",
    "TrainConfig",
    "Triangle",
    "batch_loss",
    "encode_batch",
    "evaluate",
    "make_train_step",
    "surrogate_from_name",
    "train",
]
