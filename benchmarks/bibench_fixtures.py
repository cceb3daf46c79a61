"""Generate tests/fixtures/bibench_layers.npz from BiBench's official PyTorch layers.

Not run by the test suite: it needs PyTorch and a checkout of htqin/BiBench (the fixture
was made from commit 5a04a6d with PyTorch 2.14). It imports the eight official layer files
(``BiBench/bibench/models/layers/<name>.py``, which need only PyTorch and NumPy) by path,
builds each binarized ``Conv2d`` (3×3, padding 1, no bias, as BiBench's ResNets build
them) at stride 1 and at stride 2, with random weights of both signs, random values for
every extra parameter (ReAct's thresholds, XNOR++'s scales, ReCU's α, FDA's noise
MLPs), ReCU's and FDA's schedules at epoch 3 of 10 (``model_params_update``), and runs a
forward and a backward pass on random inputs with a random upstream gradient. It saves,
per layer (PyTorch layouts):

- ``<name>/x``, ``<name>/g``: the input (N, C, H, W) and the upstream gradient;
- ``<name>/y``, ``<name>/grad_x``: the output and the input's gradient (training mode);
- ``<name>/param/<p>``, ``<name>/grad/<p>``: every parameter and buffer, and the gradient of
  every parameter (FDA's activation MLP, built in the first forward pass, included);
- ``recu/y_eval``: ReCU's output in eval mode;
- ``schedule/recu_tau``, ``schedule/fda_alpha``, ``schedule/fda_n``: the official τ, α and n
  for every epoch of 1, 7 and 200-epoch runs (rows: epochs, epoch).

Usage::

    python benchmarks/bibench_fixtures.py --official path/to/BiBench/BiBench --output tests/fixtures
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import numpy as np
import torch

CLASSES = {"bnn": "BNNConv2d", "xnor": "XNORConv2d", "dorefa": "DoReFaConv2d",
           "bireal": "BiRealConv2d", "xnorpp": "XNORPlusPlusConv2d", "react": "ReActConv2d",
           "recu": "ReCUConv2d", "fda": "FDAConv2d"}
FILES = {"xnorpp": "xnorplusplus"}
# FDA's activation MLP has a hidden width of channels // 64: 64 input channels give it one.
CHANNELS = {"fda": 64}
EPOCH, EPOCHS = 3, 10


def load(official: Path, name: str):
    path = official / "bibench" / "models" / "layers" / f"{FILES.get(name, name)}.py"
    spec = importlib.util.spec_from_file_location(f"bibench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, CLASSES[name])


def build(cls, name: str, stride: int, rng: torch.Generator):
    channels = CHANNELS.get(name, 8)
    layer = cls(channels, 8, 3, stride=stride, padding=1, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(layer.weight.shape, generator=rng) * 0.5)
        for pname, p in layer.named_parameters():
            if pname == "channel_threshold":
                p.copy_(torch.rand(p.shape, generator=rng) - 0.5)
            elif pname.endswith("_scale"):
                p.copy_(torch.rand(p.shape, generator=rng) + 0.5)
    if hasattr(layer, "model_params_update"):
        layer.model_params_update(EPOCHS, EPOCH)
    return layer, channels


def run(layer, x, g):
    x = x.clone().requires_grad_(True)
    y = layer(x)
    (y * g).sum().backward()
    return y.detach(), x.grad


def record(out: dict, key: str, layer, x, g) -> None:
    layer.train()
    y, grad_x = run(layer, x, g)
    out.update({f"{key}/x": x, f"{key}/g": g, f"{key}/y": y, f"{key}/grad_x": grad_x})
    for pname, p in layer.named_parameters():
        out[f"{key}/param/{pname}"] = p.detach()
        out[f"{key}/grad/{pname}"] = p.grad
    for bname, b in layer.named_buffers():
        out[f"{key}/param/{bname}"] = b
    if key.startswith("recu"):
        layer.eval()
        with torch.no_grad():
            out[f"{key}/y_eval"] = layer(x)


def schedules(official: Path) -> dict:
    recu, fda = load(official, "recu")(4, 4, 3), load(official, "fda")(4, 4, 3)
    rows = {"recu_tau": [], "fda_alpha": [], "fda_n": []}
    for epochs in (1, 7, 200):
        for epoch in range(epochs):
            recu.model_params_update(epochs, epoch)
            fda.model_params_update(epochs, epoch)
            rows["recu_tau"].append((epochs, epoch, float(recu.tau)))
            rows["fda_alpha"].append((epochs, epoch, float(fda.alpha)))
            rows["fda_n"].append((epochs, epoch, int(fda.n)))
    return {f"schedule/{k}": np.array(v, np.float64) for k, v in rows.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--official", type=Path, required=True,
                        help="the BiBench/ folder of a htqin/BiBench checkout")
    parser.add_argument("--output", type=Path, default=Path("tests/fixtures"))
    args = parser.parse_args()
    rng = torch.Generator().manual_seed(2023)
    out: dict = {}
    for name in CLASSES:
        for stride, size in ((1, 6), (2, 7)):
            torch.manual_seed(stride)  # the official inits that use the global generator
            layer, channels = build(load(args.official, name), name, stride, rng)
            x = torch.randn(2, channels, size, size, generator=rng)
            with torch.no_grad():
                g = torch.randn(layer(x).shape, generator=rng)
            record(out, f"{name}_s{stride}", layer, x, g)
    arrays = {k: np.asarray(v.numpy() if torch.is_tensor(v) else v) for k, v in out.items()}
    arrays.update(schedules(args.official))
    args.output.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.output / "bibench_layers.npz", **arrays)
    print(f"wrote {len(arrays)} arrays to {args.output / 'bibench_layers.npz'}")


if __name__ == "__main__":
    main()
