"""Standard against fault-aware training on the digits network.

Trains the default 64-128-10 network twice from the same initial weights:
once normally and once with a loss that also averages over fresh dead-neuron
masks (20 % of hidden neurons) at every update. Evaluates both on the same
masks at 20 % dead hidden neurons, without repair, and prints fault-free
accuracy and FT with 95 % confidence intervals. Writes `fault_aware.json`.

Run: `.venv/bin/python experiments/fault_aware_training.py [--masks 100] [--out runs/fault_aware]`
"""

import argparse
import pathlib

import jax
import jax.numpy as jnp

import lifa_jax as lj
from lifa_jax.io import atomic_write_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--masks", type=int, default=100, help="evaluation masks")
    parser.add_argument("--rate", type=float, default=0.2, help="dead hidden-neuron rate for training and evaluation")
    parser.add_argument("--epochs", type=int, default=30, help="training epochs of both runs")
    parser.add_argument("--seed", type=int, default=0, help="PRNG seed")
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("runs/fault_aware"), help="results folder")
    args = parser.parse_args()

    k_init, k_train, k_eval, k_masks = jax.random.split(jax.random.key(args.seed), 4)
    data = lj.load_digits()
    base = lj.SpikingNetwork.init([64, 128, 10], key=k_init)
    encode = jax.vmap(lambda x: lj.RegularEncoder()(x, 20))
    spikes, labels = encode(jnp.asarray(data.x_test)), jnp.asarray(data.y_test)

    results = {"rate": args.rate, "masks": args.masks, "runs": {}}
    for name, fault in (("standard", None), ("fault_aware", lj.NeuronDead(args.rate))):
        config = lj.TrainConfig(epochs=args.epochs, fault=fault)
        net, _ = lj.train(base, data.x_train, data.y_train, config, key=k_train)
        a_ff = float(lj.evaluate(net, data.x_test, data.y_test, steps=20, encoder=config.encoder, key=k_eval))
        (record,) = lj.run_sweep(net, [lj.NeuronDead(args.rate)], spikes, labels, n_masks=args.masks, key=k_masks)
        ft = lj.fault_tolerance(a_ff, record["accuracy_no_repair"])
        results["runs"][name] = {
            "accuracy_fault_free": a_ff,
            "accuracy_faulty": lj.mean_ci95(record["accuracy_no_repair"]),
            "ft": lj.mean_ci95(ft),
        }
        print(
            f"{name:<12} fault-free accuracy {a_ff:.4f}; accuracy at {args.rate:g} dead "
            f"{results['runs'][name]['accuracy_faulty']['mean']:.4f}; FT {results['runs'][name]['ft']['mean']:.2f} "
            f"± {results['runs'][name]['ft']['ci95']:.2f} % (higher is better)"
        )
    atomic_write_json(args.out / "fault_aware.json", results)
    print(f"written to {args.out / 'fault_aware.json'}")


if __name__ == "__main__":
    main()
