"""LCE against Keras: latency of one inference and model size, for binarynet and BiRealNet.

Each model is made inference-ready and converted exactly as ``bnno export`` does, then
timed by ``bnno.deploy.benchmark.measure`` (LCE's interpreter and the Keras model alternating in
this process). Weights are freshly initialized: they do not change the speed. binarynet
is the Bop paper's CIFAR-10 network at full width (set ``bop``); BiRealNet-18 (ImageNet,
224×224) is bnno's ``birealnet`` with its ``bop`` set.

Goal: LCE median latency ≤ 0.6× Keras's, LCE file ≤ 1/10 of the float32 weights.

    python benchmarks/lce_latency.py --threads 2 --runs 50 --json lce.json
"""

from __future__ import annotations

import bnno  # noqa: F401  (first: sets TF_USE_LEGACY_KERAS before TensorFlow loads)

# isort: split

import argparse
import json

from bnno.config.plan import check_set
from bnno.deploy import benchmark, convert, inference, metadata
from bnno.training.build import build_model


def built(model: str, set_name: str, input_shape: tuple, num_classes: int):
    """``model`` as its set ``set_name`` builds it (as a run of that set starts)."""
    checked = check_set(model, set_name)
    return build_model(checked.model, checked.optimizer.name, input_shape, num_classes)


def binarynet():
    return "binarynet (bop set, CIFAR-10 32x32)", built("binarynet", "bop", (32, 32, 3), 10)


def birealnet():
    return ("birealnet (bop set, ImageNet 224x224)",
            built("birealnet", "bop", (224, 224, 3), 1000))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--json", help="Also write the results to this file.")
    args = parser.parse_args()

    benchmark.set_tensorflow_threads(args.threads)
    rows = []
    for make in (binarynet, birealnet):
        name, net = make()
        flatbuffer = convert.convert(net)
        keras = inference.inference_model(net)  # the fastest Keras form: no quantizer metrics
        timing = benchmark.measure(flatbuffer, keras, args.threads, args.runs, args.warmup)
        rows.append({
            "model": name, "binary_ops": metadata.count_binary_ops(flatbuffer),
            "lce": timing["lce"], "keras": timing["keras"],
            "latency_ratio": timing["lce"]["median_ms"] / timing["keras"]["median_ms"],
            "lce_bytes": len(flatbuffer), "float32_bytes": 4 * net.count_params(),
        })
        rows[-1]["size_ratio"] = rows[-1]["lce_bytes"] / rows[-1]["float32_bytes"]

    print(f"{args.threads} thread(s), 1 image per inference, median / p90 ms of {args.runs} "
          f"runs after {args.warmup} warm-up")
    print("| model | LCE ms | Keras ms | LCE/Keras | LCE MB | float32 MB | size ratio |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['lce']['median_ms']:.1f} / {r['lce']['p90_ms']:.1f} | "
              f"{r['keras']['median_ms']:.1f} / {r['keras']['p90_ms']:.1f} | "
              f"{r['latency_ratio']:.2f} | {r['lce_bytes'] / 1e6:.2f} | "
              f"{r['float32_bytes'] / 1e6:.1f} | {r['size_ratio']:.3f} |")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"threads": args.threads, "runs": args.runs, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
