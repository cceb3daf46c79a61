"""Generate the BNext import fixtures in tests/fixtures/ from the official PyTorch code.

Not run by the test suite: it needs PyTorch and a checkout of hpi-xnor/BNext (the
fixtures were made from commit dfcf347a30e3bc08606b8cad2c8d4a329d5a5b28 with PyTorch
2.14). It writes:

- ``bnext_t_narrow.pth.tar``, ``bnext_18_narrow.pth.tar``: checkpoints shaped like those
  of the official training script (``src/train_assistant_group_amp.py``: epoch, metric
  lists, ``state_dict`` of the ``DataParallel`` student with ``module.`` keys, the AdamW
  state, temperatures), of narrow official models with random, non-trivial weights:
  batch-norm statistics, PReLU slopes, learnable biases, mix scales partly outside
  [0, 1] (the official forward clamps some of them), weight temperatures partly below
  the binarization cutoff and partly above it.
- ``bnext_inputs.npy``: eight 32×32×3 images (NHWC) and ``bnext_t_narrow_logits.npy``,
  ``bnext_18_narrow_logits.npy``: the official models' logits on them in eval mode.
  Random weights give every image nearly the same pooled features (the biases, batch-norm
  shifts and residual sums they share dominate), so a random classifier would give every
  image the same class and "same top-1" would prove little. The classifier's bias
  therefore cancels the mean logits of a separate batch of random images, as training
  would: what is left depends on the image, and the official top-1 takes at least four
  classes on the eight images (the script checks).
- ``bnext_layouts.json.gz``: key → shape of every full-size official model (BNext-T,
  -S, -M, -L and BNext-18, 1000 classes), built one at a time.

The narrow BNext-T is the official ``BNext(size="tiny")`` with the stage widths
[8, 16, 32, 32, 64] (the first four blocks of the tiny layout at a quarter of its
width: bnno's ``width_multiplier=0.25, blocks=4``). The official BNext-18 hard-codes
its widths, so the narrow one is the official ``BNext18`` class with the widths 8, 16,
32, 64 and one block per stage (``width_multiplier=0.125, blocks_per_stage=1``),
built by the official ``_make_layer`` and run by the official ``forward``.

Usage::

    python benchmarks/bnext_fixtures.py --official path/to/BNext/src --output tests/fixtures
"""

from __future__ import annotations

import argparse
import copy
import gzip
import json
import sys
import types
from pathlib import Path

import numpy as np
import torch
from torch import nn


def stub_imports() -> None:
    """The official model files import packages their models never use."""
    for name, attrs in {"torchinfo": ["summary"], "einops": ["rearrange"],
                        "timm": [], "timm.models": [],
                        "timm.models.layers": ["trunc_normal_", "DropPath"],
                        "torchvision": []}.items():
        module = types.ModuleType(name)
        for attr in attrs:
            setattr(module, attr, None)
        sys.modules.setdefault(name, module)


def randomize(model: nn.Module, generator: torch.Generator) -> None:
    """Non-trivial values for everything the import maps."""
    def uniform(shape, low, high):
        return low + (high - low) * torch.rand(shape, generator=generator)

    binary = 0
    for module in model.modules():
        kind = type(module).__name__
        if kind == "HardBinaryConv":
            module.weight.data = 0.3 * torch.randn(module.weight.shape, generator=generator)
            # Alternate soft (clip(w/T)) and hard (sign) binarization.
            module.temperature.fill_(1e-9 if binary % 2 else float(uniform((), 0.2, 1.0)))
            binary += 1
        elif kind == "HardSign":
            module.temperature.fill_(float(uniform((), 0.1, 1.0)))
        elif kind == "BatchNorm2d":
            module.weight.data = uniform(module.weight.shape, 0.5, 1.5)
            module.bias.data = 0.2 * torch.randn(module.bias.shape, generator=generator)
            module.running_mean = 0.2 * torch.randn(module.running_mean.shape,
                                                    generator=generator)
            module.running_var = uniform(module.running_var.shape, 0.5, 2.0)
            module.num_batches_tracked.fill_(1234)
        elif kind == "PReLU":
            module.weight.data = uniform(module.weight.shape, -0.1, 0.5)
        elif kind == "LearnableBias":
            module.bias.data = 0.2 * torch.randn(module.bias.shape, generator=generator)
        elif kind == "Linear":  # logits that depend on the image, not only the biases
            module.weight.data = 3 * torch.randn(module.weight.shape, generator=generator)
        if hasattr(module, "scale") and isinstance(module.scale, nn.Parameter):
            module.scale.data = uniform(module.scale.shape, -0.2, 1.2)


def center_classifier(model: nn.Module, images: torch.Tensor) -> None:
    """Shift the classifier's bias so that the mean logits on ``images`` are 0."""
    # The eval forward clamps some scales and weights in place: the checkpoint keeps the
    # values before it.
    state = copy.deepcopy(model.state_dict())
    with torch.no_grad():
        mean = model.eval()(images).mean(0)
    model.load_state_dict(state)
    model.train()
    model.fc.bias.data -= mean


def narrow_bnext18(bnext18_module, widths: list[int], num_classes: int) -> nn.Module:
    """The official BNext18 with other widths (its constructor hard-codes 64 to 512) and
    one block per stage (its ``layers`` argument)."""
    official = bnext18_module.BNext18

    class Narrow(official):
        def __init__(self):
            nn.Module.__init__(self)
            self.inplanes = widths[0]
            self.conv1 = nn.Conv2d(3, widths[0], kernel_size=3, stride=1, padding=1,
                                   bias=False)
            self.bn1 = nn.BatchNorm2d(widths[0])
            self.maxpool = lambda x: x
            block = bnext18_module.BasicBlock
            self.layer0 = self._make_layer(block, widths[0], 1)
            self.layer1 = self._make_layer(block, widths[1], 1, stride=2)
            self.layer2 = self._make_layer(block, widths[2], 1, stride=2)
            self.layer3 = self._make_layer(block, widths[3], 1, stride=2)
            self.prelu = nn.PReLU(widths[3])
            self.pool1 = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(widths[3], num_classes)

    return Narrow()


def checkpoint_of(model: nn.Module, epoch: int) -> dict:
    """The dict the official training script saves, for ``model`` (state before any
    evaluation: the eval forward clamps some scales in place)."""
    wrapped = nn.DataParallel(model)
    state = copy.deepcopy(wrapped.state_dict())
    optimizer = torch.optim.AdamW(wrapped.parameters(), lr=1e-3, weight_decay=1e-3)
    # One step on the classifier only, so that the saved optimizer state has tensors
    # but stays small.
    model.fc.weight.grad = torch.ones_like(model.fc.weight)
    optimizer.step()
    model.fc.weight.grad = None
    wrapped.load_state_dict(state)  # the reference logits use the saved weights
    return {"epoch": epoch, "train_loss": [3.1, 2.7], "train_top1": [20.0, 31.5],
            "train_top5": [45.0, 60.2], "test_loss": [2.9, 2.6],
            "test_top1": [24.1, 33.0], "test_top5": [50.3, 62.8], "state_dict": state,
            "best_top1_acc": 33.0, "optimizer": optimizer.state_dict(),
            "temp": [1.0, 0.9], "alpha": 0.5}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--official", required=True, help="the src folder of hpi-xnor/BNext")
    parser.add_argument("--output", default="tests/fixtures")
    args = parser.parse_args()
    stub_imports()
    sys.path.insert(0, args.official)
    import birealnet
    import bnext

    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(14)  # the default initialisation of the layers left as they are
    generator = torch.Generator().manual_seed(14)
    images = torch.randn((8, 3, 32, 32), generator=generator)
    calibration = torch.randn((64, 3, 32, 32), generator=generator)
    np.save(out / "bnext_inputs.npy", images.permute(0, 2, 3, 1).numpy())

    bnext.stage_out_channel_tiny = [8, 16, 32, 32, 64]
    narrow = {"bnext_t": bnext.BNext(num_classes=10, size="tiny"),
              "bnext_18": narrow_bnext18(birealnet, [8, 16, 32, 64], 10)}
    for name, model in narrow.items():
        randomize(model, generator)
        center_classifier(model, calibration)
        checkpoint = checkpoint_of(model, epoch=1)
        torch.save(checkpoint, out / f"{name}_narrow.pth.tar")
        with torch.no_grad():
            logits = model.eval()(images).numpy()
        top2 = np.sort(logits, axis=1)[:, -2:]
        classes = len(set(logits.argmax(1).tolist()))
        if classes < 4:
            raise SystemExit(f"{name}: only {classes} distinct top-1 classes")
        np.save(out / f"{name}_narrow_logits.npy", logits)
        print(name, "logits scale", float(np.abs(logits).max()), "top-1", logits.argmax(1),
              "smallest top-1 margin", float((top2[:, 1] - top2[:, 0]).min()))

    sizes = {"bnext_t": "tiny", "bnext_s": "small", "bnext_m": "middle",
                       "bnext_l": "large"}
    bnext.stage_out_channel_tiny = ([32] + [64] + [128] * 2 + [256] * 2 + [512] * 6
                                    + [1024] * 2)
    builders = {name: lambda size=size: bnext.BNext(num_classes=1000, size=size)
                for name, size in sizes.items()}
    builders["bnext_18"] = lambda: birealnet.BNext18(num_classes=1000)
    layouts = {name: {k: list(v.shape) for k, v in build().state_dict().items()}
               for name, build in builders.items()}
    text = json.dumps(layouts, indent=0).encode()
    with open(out / "bnext_layouts.json.gz", "wb") as f:
        f.write(gzip.compress(text, mtime=0))


if __name__ == "__main__":
    main()
