"""±1 vs Si-BNN {0, 1} activations, each with Adam and with Bop, on real MNIST and CIFAR-10.

Eight runs with the same budget per dataset (epochs, steps per epoch, batch size, width):

- MNIST: ``sibnn_mlp`` with the ``sibnn`` set (Adam on latent weights) and ``sibnn_bop``
  (Bop for the binary kernels), each with ``activation=ste_sign`` (±1) and ``sibnn``.
- CIFAR-10: ``binarynet`` with the ``default`` set (Adam) and ``bop``, each with
  ``activation=ste_sign`` and ``sibnn`` (ρ = 0.3), ``resize_and_flip`` augmentation.

Each set keeps its optimizer, learning rate and schedules; only the budget is shared.
Printed per run: final test accuracy, best test accuracy, the mean activation sparsity
of the binarized layers in the last epoch (fraction of zeros; ±1 activations have none)
and seconds per epoch.

    python benchmarks/sibnn_mnist_cifar.py [--data-dir DIR] [--epochs 3] [--json out.json]

The data dir defaults to $BNNO_DATA_DIR, then $TFDS_DATA_DIR.
"""

from __future__ import annotations

import bnno  # noqa: F401  (first: sets TF_USE_LEGACY_KERAS before TensorFlow loads)

# isort: split

import argparse
import json
import os
import statistics
import tempfile

from common import plan_run, train_run
from timing import EpochTimer

from bnno import runs


def runs_to_do(args) -> list[dict]:
    mnist = f"units={args.mlp_units},batch_size={args.batch_size}"
    cifar = (f"filters={args.filters},dense_units={args.dense_units},"
             f"batch_size={args.batch_size}")
    todo = []
    for activation in ("ste_sign", "sibnn"):
        for set_name, optimizer in (("sibnn", "adam"), ("sibnn_bop", "bop")):
            todo.append(dict(dataset="mnist", model="sibnn_mlp", set=set_name,
                             optimizer=optimizer, activation=activation, preprocess="default",
                             overrides=f"{mnist},activation={activation}",
                             steps=args.mnist_steps))
        for set_name, optimizer in (("default", "adam"), ("bop", "bop")):
            todo.append(dict(dataset="cifar10", model="binarynet", set=set_name,
                             optimizer=optimizer, activation=activation,
                             preprocess="resize_and_flip",
                             overrides=f"{cifar},activation={activation}",
                             steps=args.cifar_steps))
    return todo


def one_run(job: dict, args, out_dir: str) -> dict:
    timer = EpochTimer()
    name = f"{job['dataset']}-{job['set']}-{job['activation']}"
    config = plan_run(job["model"], job["dataset"], job["set"],
                      f"{job['overrides']},epochs={args.epochs}", seed=args.seed,
                      preprocess_fn=job["preprocess"], steps_per_epoch=job["steps"],
                      validation_steps=args.validation_steps)
    path = train_run(config, os.path.join(out_dir, name), args.data_dir,
                     verbose=args.verbose, callbacks=[timer])
    rows = runs.read_metrics(path)
    last = rows[-1]
    sparsity = [v for k, v in last.items() if k.startswith("sparsity/")]
    return {
        **{k: job[k] for k in ("dataset", "model", "set", "optimizer", "activation")},
        "val_accuracy": [r["val_accuracy"] for r in rows],
        "final_accuracy": last["val_accuracy"],
        "best_accuracy": max(r["val_accuracy"] for r in rows),
        "sparsity": statistics.fmean(sparsity) if sparsity else 0.0,
        "seconds_per_epoch": statistics.median(timer.seconds),
    }


def table(results: list[dict]) -> str:
    """Markdown table; the ratios compare each run with the ±1 run of the same dataset and
    optimizer (the baseline, made in this script)."""
    base = {(r["dataset"], r["optimizer"]): r for r in results if r["activation"] != "sibnn"}
    lines = ["| dataset | activations | optimizer (set) | final acc | best acc | sparsity "
             "| s/epoch | acc / ±1 | s/epoch / ±1 |", "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in sorted(results, key=lambda r: (r["dataset"], r["optimizer"], r["activation"])):
        act = "{0,1} sibnn" if r["activation"] == "sibnn" else "±1 ste_sign"
        b = base.get((r["dataset"], r["optimizer"]))
        ratios = (f"{r['final_accuracy'] / b['final_accuracy']:.3f} "
                  f"| {r['seconds_per_epoch'] / b['seconds_per_epoch']:.2f}") if b else "– | –"
        lines.append(f"| {r['dataset']} | {act} | {r['optimizer']} ({r['set']}) "
                     f"| {r['final_accuracy']:.4f} | {r['best_accuracy']:.4f} "
                     f"| {r['sparsity']:.3f} | {r['seconds_per_epoch']:.1f} | {ratios} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=os.environ.get("BNNO_DATA_DIR")
                   or os.environ.get("TFDS_DATA_DIR"))
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--mnist-steps", type=int, default=200, help="steps per MNIST epoch")
    p.add_argument("--cifar-steps", type=int, default=150, help="steps per CIFAR-10 epoch")
    p.add_argument("--validation-steps", type=int, default=20)
    p.add_argument("--mlp-units", type=int, default=1024)
    p.add_argument("--filters", type=int, default=32)
    p.add_argument("--dense-units", type=int, default=256)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--verbose", type=int, default=2)
    p.add_argument("--json", help="also write the results to this file")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as out_dir:
        results = [one_run(job, args, out_dir) for job in runs_to_do(args)]
    print(table(results))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"args": vars(args), "runs": results}, f, indent=2)


if __name__ == "__main__":
    main()
