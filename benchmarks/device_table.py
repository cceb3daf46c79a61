"""The device table: BNext-T, Si-BNN ResNet-18, Bi-Real Net and binarynet in LCE.

Each model is made inference-ready and converted as ``bnno export`` does, with random
weights (BNext's kernels at the end of training, sign(w)) or the weights of a run
directory (``--run MODEL=DIR``, e.g. an imported BNext-T). Per model it prints the
binary convolutions in the flatbuffer against the binary layers of the Keras model,
the flatbuffer's size against the float32 weights, and one-image latency in LCE
against Keras (``bnno.deploy.benchmark.measure``: same process, same threads,
alternating). LCE's optimised kernels are for 64-bit Arm; on x86-64 it runs reference
kernels, so latencies measured there are not device figures.

    python benchmarks/device_table.py --threads 2 --runs 20 --json device.json
"""

from __future__ import annotations

import bnno  # noqa: F401  (first: sets TF_USE_LEGACY_KERAS before TensorFlow loads)

# isort: split

import argparse
import json

import numpy as np

from bnno import hparams, models, runs
from bnno.deploy import benchmark, convert, inference, metadata
from bnno.deploy.sign_conv import is_binary_layer
from bnno.training.build import build_model
from bnno.training.loading import load_trained
from bnno.training.temperature import temperatures

# (model, hparam set, input shape, classes)
MODELS = [
    ("bnext_t", "imagenet", (224, 224, 3), 1000),
    ("sibnn_resnet18", "sibnn", (224, 224, 3), 1000),
    ("birealnet", "bop", (224, 224, 3), 1000),
    ("binarynet", "bop", (32, 32, 3), 10),
]


def random_model(name: str, set_name: str, shape: tuple, classes: int):
    hp = hparams.resolve(name, set_name, None, models.hparam_types(name))
    net = build_model(name, hp, shape, classes)
    for t in temperatures(net):
        t.assign(1e-8)  # below every cutoff: BNext's kernels are sign(w)
    rng = np.random.default_rng(0)
    for layer in net.layers:
        if is_binary_layer(layer) and hasattr(layer, "kernel"):
            # A latent weight of exactly 0 binarizes to 0 under Si-BNN's sign; training
            # never leaves one there, a random draw can.
            w = layer.kernel.numpy()
            layer.kernel.assign(np.where(w == 0, rng.choice([-1e-3, 1e-3], w.shape), w))
    return net


def row(name: str, net, threads: int, repeats: int, warmup: int) -> dict:
    ready = inference.inference_model(net)
    flatbuffer = convert.convert_ready(ready)
    binary = [layer.name for layer in net.layers if is_binary_layer(layer)]
    ops = metadata.count_binary_ops(flatbuffer)
    timing = benchmark.measure(flatbuffer, ready, threads, repeats, warmup)
    return {
        "model": name, "input": list(net.input_shape[1:]),
        "binary_ops": ops, "binary_layers": len(binary),
        "float_layers": convert.float_layers(ready, binary) if ops != len(binary) else [],
        "lce_bytes": len(flatbuffer), "float32_bytes": 4 * net.count_params(),
        "lce": timing["lce"], "keras": timing["keras"],
        "latency_ratio": timing["lce"]["median_ms"] / timing["keras"]["median_ms"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--run", action="append", default=[], metavar="MODEL=DIR",
                        help="Use a run directory's weights for MODEL (repeatable).")
    parser.add_argument("--only", nargs="*", help="Models to include (default: all four).")
    parser.add_argument("--json", help="Also write the rows to this file.")
    args = parser.parse_args()

    run_dirs = dict(item.split("=", 1) for item in args.run)
    benchmark.set_tensorflow_threads(args.threads)
    rows = []
    for name, set_name, shape, classes in MODELS:
        if args.only and name not in args.only:
            continue
        if name in run_dirs:
            spec = runs.read(run_dirs[name])
            net = load_trained(run_dirs[name], spec, shape, classes)[0]
        else:
            net = random_model(name, set_name, shape, classes)
        rows.append(row(name, net, args.threads, args.runs, args.warmup))
        print(f"{name}: done", flush=True)

    print(f"\n{args.threads} thread(s), 1 image per inference, median ms of {args.runs} runs "
          f"after {args.warmup} warm-up (x86-64 runs LCE's reference kernels: not device "
          "figures)")
    print("| model | input | LceBconv2d / binary layers | LCE MB | float32 MB | size ratio "
          "| LCE ms | Keras ms | LCE/Keras |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {'×'.join(map(str, r['input'][:2]))} | {r['binary_ops']} / "
              f"{r['binary_layers']} | {r['lce_bytes'] / 1e6:.2f} | "
              f"{r['float32_bytes'] / 1e6:.1f} | {r['lce_bytes'] / r['float32_bytes']:.3f} | "
              f"{r['lce']['median_ms']:.1f} | {r['keras']['median_ms']:.1f} | "
              f"{r['latency_ratio']:.2f} |")
        if r["float_layers"]:
            print(f"  float: {', '.join(r['float_layers'])}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"threads": args.threads, "runs": args.runs, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
