"""Per-neuron against cluster-mean astrocyte repair on the digits network.

Trains the default 64-128-10 network, then evaluates the same fault masks
(dead hidden neurons and dead input synapses at several rates) without repair,
with a controller on each astrocyte domain's mean rate, and with per-neuron
set-points. Writes `repair_ablation.json` and prints a table.

Run: `.venv/bin/python experiments/repair_ablation.py [--masks 30] [--out runs/ablation]`
"""

import argparse
import pathlib

import jax
import jax.numpy as jnp

import lifa_jax as lj
from lifa_jax.io import atomic_write_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--masks", type=int, default=30, help="fault masks per kind and rate")
    parser.add_argument("--rates", type=str, default="0.1,0.3,0.5", help="fault rates in [0, 1]")
    parser.add_argument("--seed", type=int, default=0, help="PRNG seed")
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("runs/repair_ablation"), help="results folder")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]

    key = jax.random.key(args.seed)
    k_init, k_train, k_masks = jax.random.split(key, 3)
    data = lj.load_digits()
    config = lj.TrainConfig()
    net = lj.SpikingNetwork.init([64, 128, 10], key=k_init)
    net, _ = lj.train(net, data.x_train, data.y_train, config, key=k_train)

    encode = jax.vmap(lambda x: config.encoder(x, config.steps))
    spikes, labels = encode(jnp.asarray(data.x_test)), jnp.asarray(data.y_test)
    stream = encode(jnp.asarray(data.x_train[:128]))
    a_ff = float(jnp.mean(jax.vmap(lambda s: lj.predict(lj.simulate(net, s)))(spikes) == labels))

    faults = [lj.NeuronDead(r) for r in rates] + [lj.SynapseDead(r, layers=(0,)) for r in rates]
    results = {"accuracy_fault_free": a_ff, "masks": args.masks, "rows": []}
    controllers = {"per_neuron": lj.HomeostaticRepair(), "cluster_mean": lj.HomeostaticRepair(per_neuron=False)}
    rows = {}
    for name, repair in controllers.items():
        set_points = repair.calibrate(net, stream)
        records = lj.run_sweep(
            net,
            faults,
            spikes,
            labels,
            n_masks=args.masks,
            key=k_masks,
            repair=repair,
            set_points=set_points,
            adapt_spikes=stream,
        )
        for record, fault in zip(records, faults):
            label = (fault.name + ("_input" if isinstance(fault, lj.SynapseDead) else ""), record["rate"])
            row = rows.setdefault(
                label,
                {"fault": label[0], "rate": label[1], "accuracy_no_repair": lj.mean_ci95(record["accuracy_no_repair"])},
            )
            row[f"accuracy_{name}"] = lj.mean_ci95(record["accuracy_repair"])
    results["rows"] = list(rows.values())
    atomic_write_json(args.out / "repair_ablation.json", results)

    print(f"fault-free accuracy {a_ff:.4f}; {args.masks} masks per row; accuracy, higher is better")
    print(f"{'fault':<20}{'rate':>6}{'no repair':>12}{'cluster mean':>14}{'per neuron':>12}")
    for row in results["rows"]:
        print(
            f"{row['fault']:<20}{row['rate']:>6g}{row['accuracy_no_repair']['mean']:>12.4f}"
            f"{row['accuracy_cluster_mean']['mean']:>14.4f}{row['accuracy_per_neuron']['mean']:>12.4f}"
        )
    print(f"written to {args.out / 'repair_ablation.json'}")


if __name__ == "__main__":
    main()
