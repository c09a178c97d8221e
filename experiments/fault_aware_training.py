"""Standard against fault-aware training on the digits network.

For every seed, trains one network twice from the same initial weights and the
same shuffling key: once normally and once with a loss that also averages over
fresh dead-neuron masks (`--train-rate` of the hidden neurons) at every update.
Both networks are then evaluated without repair on the same `--masks` masks of
`--rate` dead hidden neurons. The script prints fault-free accuracy, accuracy
under the fault and FT (higher is better) with 95 % confidence intervals over
masks, the paired FT difference (fault-aware minus standard, same masks), and,
with several seeds, the same quantities with 95 % intervals over seeds, once
for all seeds and once for the seeds whose two fault-free accuracies lie within
1 point of each other. Writes `fault_aware.json`.

Run: `.venv/bin/python experiments/fault_aware_training.py [--hidden 32] [--rate-weight 0]
[--seeds 0 1 2] [--masks 100] [--out runs/fault_aware]`
"""

import argparse
import pathlib
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np
import scipy.stats

import lifa_jax as lj
from lifa_jax.io import atomic_write_json

STEPS = 20
MATCH_TOLERANCE = 0.01  # max fault-free accuracy gap (fraction) of a matched seed


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--hidden", type=int, nargs="+", default=[128], help="hidden layer sizes in neurons (default: 128)"
    )
    parser.add_argument("--masks", type=int, default=100, help="evaluation masks per seed")
    parser.add_argument(
        "--rate", type=float, default=0.2, help="fraction of hidden neurons dead in the evaluation masks, in [0, 1]"
    )
    parser.add_argument(
        "--train-rate",
        type=float,
        default=None,
        help="fraction of hidden neurons dead in the training masks (default: --rate)",
    )
    parser.add_argument("--fault-masks", type=int, default=4, help="fresh training masks per update")
    parser.add_argument("--fault-weight", type=float, default=0.5, help="weight of the faulty loss, in [0, 1]")
    parser.add_argument(
        "--rate-weight", type=float, default=1.0, help="weight of the hidden-activity penalty (0 turns it off)"
    )
    parser.add_argument("--epochs", type=int, default=30, help="training epochs of both runs")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="PRNG seeds, one trained pair each")
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("runs/fault_aware"), help="results folder")
    args = parser.parse_args()

    if args.train_rate is None:
        args.train_rate = args.rate
    if any(h < 1 for h in args.hidden):
        parser.error(f"--hidden sizes must be positive, got {args.hidden}")
    for name in ("rate", "train_rate", "fault_weight"):
        if not 0.0 <= getattr(args, name) <= 1.0:
            parser.error(f"--{name.replace('_', '-')} must lie in [0, 1], got {getattr(args, name)}")
    if args.masks < 2 or args.fault_masks < 1 or args.epochs < 1:
        parser.error("--masks must be at least 2, --fault-masks and --epochs at least 1")
    if args.rate_weight < 0:
        parser.error(f"--rate-weight must be non-negative, got {args.rate_weight}")
    return args


def run_seed(args, seed, data, spikes, labels) -> dict:
    """Train the standard and fault-aware networks of one seed and evaluate both on the same masks."""
    k_init, k_train, k_eval, k_masks = jax.random.split(jax.random.key(seed), 4)
    base = lj.SpikingNetwork.init([64, *args.hidden, 10], key=k_init)
    evaluation_fault = lj.NeuronDead(args.rate)

    runs = {}
    for name, fault in (("standard", None), ("fault_aware", lj.NeuronDead(args.train_rate))):
        config = lj.TrainConfig(
            steps=STEPS,
            epochs=args.epochs,
            rate_weight=args.rate_weight,
            fault=fault,
            fault_masks=args.fault_masks,
            fault_weight=args.fault_weight,
        )
        start = time.perf_counter()
        net, history = lj.train(base, data.x_train, data.y_train, config, key=k_train)
        train_seconds = time.perf_counter() - start

        a_ff = float(lj.evaluate(net, data.x_test, data.y_test, steps=STEPS, encoder=config.encoder, key=k_eval))
        # The masks depend only on the topology and k_masks, so both runs see the same masks.
        (record,) = lj.run_sweep(net, [evaluation_fault], spikes, labels, n_masks=args.masks, key=k_masks)
        a_f = np.asarray(record["accuracy_no_repair"], dtype=np.float64)
        ft = np.asarray(lj.fault_tolerance(a_ff, a_f), dtype=np.float64)
        runs[name] = {
            "accuracy_fault_free": a_ff,
            "accuracy_faulty": lj.mean_ci95(a_f),
            "ft": lj.mean_ci95(ft),
            "train_accuracy_last_epoch": history["accuracy"][-1],
            "train_seconds": train_seconds,
            "_a_f": a_f,
            "_ft": ft,
        }
        print(
            f"seed {seed} {name:<12} fault-free accuracy {a_ff:.4f}; accuracy at {args.rate:g} dead "
            f"{runs[name]['accuracy_faulty']['mean']:.4f}; FT {runs[name]['ft']['mean']:.2f} "
            f"± {runs[name]['ft']['ci95']:.2f} % (higher is better); trained in {train_seconds:.0f} s",
            flush=True,
        )

    standard, aware = runs["standard"], runs["fault_aware"]
    result = {
        "seed": seed,
        "runs": {name: {k: v for k, v in run.items() if not k.startswith("_")} for name, run in runs.items()},
        "fault_free_gap": aware["accuracy_fault_free"] - standard["accuracy_fault_free"],
        "paired_ft_difference": lj.mean_ci95(aware["_ft"] - standard["_ft"]),
        "paired_accuracy_difference": lj.mean_ci95(aware["_a_f"] - standard["_a_f"]),
    }
    diff = result["paired_ft_difference"]
    print(
        f"seed {seed} paired FT difference (fault-aware - standard, same masks) {diff['mean']:+.2f} "
        f"± {diff['ci95']:.2f} points; fault-free gap {100 * result['fault_free_gap']:+.2f} points",
        flush=True,
    )
    return result


def summarise_seeds(per_seed: list[dict]) -> dict:
    """Return means with 95 % intervals over seeds (each seed's mean over masks is one value).

    Adds the two-sided Wilcoxon signed-rank p-value of the per-seed paired FT
    differences, which assumes no normal distribution over seeds.
    """

    def over_seeds(values):
        return lj.mean_ci95(np.asarray(values, dtype=np.float64))

    summary = {"seeds": [s["seed"] for s in per_seed]}
    for name in ("standard", "fault_aware"):
        summary[name] = {
            "accuracy_fault_free": over_seeds([s["runs"][name]["accuracy_fault_free"] for s in per_seed]),
            "accuracy_faulty": over_seeds([s["runs"][name]["accuracy_faulty"]["mean"] for s in per_seed]),
            "ft": over_seeds([s["runs"][name]["ft"]["mean"] for s in per_seed]),
        }
    summary["fault_free_gap"] = over_seeds([s["fault_free_gap"] for s in per_seed])
    ft_differences = [s["paired_ft_difference"]["mean"] for s in per_seed]
    summary["paired_ft_difference"] = over_seeds(ft_differences)
    summary["paired_accuracy_difference"] = over_seeds([s["paired_accuracy_difference"]["mean"] for s in per_seed])
    summary["wilcoxon_p_ft"] = float(scipy.stats.wilcoxon(ft_differences).pvalue)
    return summary


def print_summary(label: str, summary: dict) -> None:
    count = len(summary["seeds"])
    for name in ("standard", "fault_aware"):
        row = summary[name]
        print(
            f"{label}, {count} seeds, {name:<12} fault-free accuracy {row['accuracy_fault_free']['mean']:.4f} "
            f"± {row['accuracy_fault_free']['ci95']:.4f}; accuracy at fault {row['accuracy_faulty']['mean']:.4f} "
            f"± {row['accuracy_faulty']['ci95']:.4f}; FT {row['ft']['mean']:.2f} ± {row['ft']['ci95']:.2f} %"
        )
    ft, accuracy = summary["paired_ft_difference"], summary["paired_accuracy_difference"]
    print(
        f"{label}, {count} seeds, paired FT difference {ft['mean']:+.2f} ± {ft['ci95']:.2f} points "
        f"(Wilcoxon p = {summary['wilcoxon_p_ft']:.3g}); paired accuracy difference "
        f"{100 * accuracy['mean']:+.2f} ± {100 * accuracy['ci95']:.2f} points"
    )


def main() -> None:
    args = parse_arguments()

    data = lj.load_digits()
    encode = jax.vmap(lambda x: lj.RegularEncoder()(x, STEPS))
    spikes, labels = encode(jnp.asarray(data.x_test)), jnp.asarray(data.y_test)

    settings = {k: (str(v) if isinstance(v, pathlib.Path) else v) for k, v in vars(args).items()}
    results = {
        "settings": settings,
        "topology": [64, *args.hidden, 10],
        "steps": STEPS,
        "machine": " ".join(filter(None, [platform.machine(), platform.processor(), jax.devices()[0].platform])),
        "seeds": [run_seed(args, seed, data, spikes, labels) for seed in args.seeds],
    }
    if len(args.seeds) > 1:
        results["over_seeds"] = summary = summarise_seeds(results["seeds"])
        print_summary("all", summary)
        # Seeds whose two fault-free accuracies lie within MATCH_TOLERANCE of each other.
        matched = [s for s in results["seeds"] if abs(s["fault_free_gap"]) <= MATCH_TOLERANCE + 1e-9]
        if len(matched) > 1:
            results["over_matched_seeds"] = summary = summarise_seeds(matched)
            print_summary(f"fault-free within {100 * MATCH_TOLERANCE:g} point", summary)

    atomic_write_json(args.out / "fault_aware.json", results)
    print(f"written to {args.out / 'fault_aware.json'}")


if __name__ == "__main__":
    main()
