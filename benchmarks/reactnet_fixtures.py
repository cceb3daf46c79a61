"""Generate the ReActNet and ResNet-34 import fixtures in tests/fixtures/ from the official
PyTorch code.

Not run by the test suite: it needs PyTorch, torchvision and a checkout of
liuzechun/ReActNet (the fixtures were made from commit
a6cd08d4605d94135faea6fd73354041e4130b52 with PyTorch 2.14 and torchvision 0.29). It
writes:

- ``reactnet_a_narrow.pth.tar``: a checkpoint shaped like those of the official step-2
  training script (``mobilenet/2_step2/train.py``: epoch, ``state_dict`` of the
  ``DataParallel`` student with ``module.`` keys, best_top1_acc, the Adam state) of a
  narrow official ReActNet-A in its step-2 form: binary weights as the official
  ``HardBinaryConv`` stores them, ``weights`` of shape (N, 1), random latent values.
- ``reactnet_resnet18_narrow.pth.tar``: the same for a narrow official ReAct-ResNet-18
  (``resnet/2_step2/birealnet.py``), whose binary weights are ``weight``, 4-D, here
  stored as exactly ±1, as the re-uploaded official models store them.
- Both with random, non-trivial values: learnable biases, PReLU slopes, batch-norm γ
  and β (each model from the first seed of 21, 22, ... whose fixture passes the checks
  below: at least four top-1 classes, and no binarizer input within 1e-5 of 0, where
  float rounding could give TensorFlow another sign than PyTorch); the batch-norm
  statistics recalibrated on random images (the mean and variance
  over 8 batches of 16, taken in training mode layer by layer as the checkpoint's own
  network computes them: after the weights are final, ±1 included).
- ``reactnet_inputs.npy``: eight 32×32×3 images (NHWC), and
  ``reactnet_a_narrow_logits.npy``, ``reactnet_resnet18_narrow_logits.npy``: the official
  models' logits on them in evaluation mode. The classifier's bias cancels the mean
  logits of a separate batch of random images, as in the BNext fixtures
  (benchmarks/bnext_fixtures.py), so that the official top-1 varies between the eight
  images (at least four classes; the script checks).
- ``resnet34_bn.npz`` and ``resnet34_logits.npy``: torchvision's ResNet-34 (full size:
  torchvision's widths are fixed) at 32×32 inputs. Its 21.8 M weights would take 87 MB,
  so they are not stored: every convolution and linear weight and every batch-norm γ
  and β is drawn by ``seeded_weights`` below from NumPy's ``RandomState(34)`` (whose
  stream NumPy keeps stable across versions), in the sorted order of the state-dict
  keys; the test draws them again with the same function. The file stores what depends
  on running the model: the recalibrated batch-norm statistics, the centred classifier
  bias, and the sum of |w| over the drawn weights, with which the test checks that it
  drew the same ones.
- ``reactnet_layouts.json.gz``: key → shape of every full-size official model at 1000
  classes: ReActNet-A of step 1 and step 2 (mobilenet/*/reactnet.py), ReAct-ResNet-18 of
  step 1 and step 2 (resnet/*/birealnet.py), torchvision's ResNet-34.

Narrowing (the official classes hard-code their widths): the narrow ReActNet-A is the
official ``reactnet`` class whose ``feature`` list is built from the official
``firstconv3x3`` and ``BasicBlock`` on the widths [2, 4, 8, 8, 16, 16, 32 ×6, 64 ×2]
(the official layout at 1/16 of its width, bnno's ``width_multiplier=0.0625``), with
stride 2 in blocks 2, 4, 6 and 12 as the official rule gives at full width (the rule
tests the literal width 64, which the narrow widths would defeat), a stride-1 stem (bnno's
stem for inputs of 64×64 or smaller) and ``fc`` from 64 features; the official
``forward`` runs it. The narrow ReAct-ResNet-18 is the official ``BiRealNet`` with the
widths 4, 8, 16, 32 (``width_multiplier=0.0625``), built by the official ``_make_layer``
with four official ``BasicBlock`` per stage and run by the official ``forward``, with
bnno's stem for small inputs: a 3×3/1 ``conv1`` and no max pool.

Usage::

    python benchmarks/reactnet_fixtures.py --official path/to/ReActNet --output tests/fixtures
"""

from __future__ import annotations

import argparse
import copy
import gzip
import importlib.util
import json
from pathlib import Path

import numpy as np
import torch
import torchvision
from torch import nn

REACTNET_A = [32, 64] + [128] * 2 + [256] * 2 + [512] * 6 + [1024] * 2
NARROW = 1 / 16  # bnno's width_multiplier of both narrow models
SEED = 34  # of seeded_weights (ResNet-34)
# The smallest |x| a binarizer may see: TensorFlow's float32 rounding differs from
# PyTorch's by about 1e-6 of the values here, so a value closer to 0 could change sign.
MARGIN = 1e-5


def load(path: Path, name: str):
    """An official model file as a module (it imports only torch)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def narrow_reactnet(official, num_classes: int) -> nn.Module:
    widths = [int(w * NARROW) for w in REACTNET_A]
    strided = [i for i in range(1, len(REACTNET_A))
               if REACTNET_A[i - 1] != REACTNET_A[i] and REACTNET_A[i] != 64]

    class Narrow(official.reactnet):
        def __init__(self):
            nn.Module.__init__(self)
            self.feature = nn.ModuleList([official.firstconv3x3(3, widths[0], 1)])
            for i in range(1, len(widths)):
                stride = 2 if i in strided else 1
                self.feature.append(official.BasicBlock(widths[i - 1], widths[i], stride))
            self.pool1 = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(widths[-1], num_classes)

    return Narrow()


def narrow_birealnet(official, num_classes: int) -> nn.Module:
    widths = [int(w * NARROW) for w in (64, 128, 256, 512)]

    class Narrow(official.BiRealNet):
        def __init__(self):
            nn.Module.__init__(self)
            self.inplanes = widths[0]
            self.conv1 = nn.Conv2d(3, widths[0], kernel_size=3, stride=1, padding=1,
                                   bias=False)
            self.bn1 = nn.BatchNorm2d(widths[0])
            self.maxpool = nn.Identity()
            block = official.BasicBlock
            self.layer1 = self._make_layer(block, widths[0], 4)
            self.layer2 = self._make_layer(block, widths[1], 4, stride=2)
            self.layer3 = self._make_layer(block, widths[2], 4, stride=2)
            self.layer4 = self._make_layer(block, widths[3], 4, stride=2)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(widths[3], num_classes)

    return Narrow()


def randomize(model: nn.Module, generator: torch.Generator, plus_minus_one: bool) -> None:
    """Random non-trivial values for everything the import maps but the BN statistics."""
    def uniform(shape, low, high):
        return low + (high - low) * torch.rand(shape, generator=generator)

    for module in model.modules():
        kind = type(module).__name__
        if kind == "HardBinaryConv":
            p = module.weights if hasattr(module, "weights") else module.weight
            p.data = 0.3 * torch.randn(p.shape, generator=generator)
            if plus_minus_one:
                p.data = torch.where(p.data >= 0, 1.0, -1.0)
        elif kind == "BatchNorm2d":
            module.weight.data = uniform(module.weight.shape, 0.5, 1.5)
            module.bias.data = 0.2 * torch.randn(module.bias.shape, generator=generator)
        elif kind == "PReLU":
            module.weight.data = uniform(module.weight.shape, -0.1, 0.5)
        elif kind == "LearnableBias":
            module.bias.data = 0.2 * torch.randn(module.bias.shape, generator=generator)
        elif kind == "Linear":  # logits that depend on the image, not only the biases
            module.weight.data = 3 * torch.randn(module.weight.shape, generator=generator)


def recalibrate(model: nn.Module, batches: list[torch.Tensor]) -> None:
    """Batch-norm running statistics = the average over ``batches`` of each layer's
    training-mode batch statistics (PyTorch's cumulative average, momentum None)."""
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
    model.train()
    with torch.no_grad():
        for batch in batches:
            model(batch)
    for norm in norms:
        norm.momentum = 0.1
        norm.num_batches_tracked.fill_(1234)


def center_classifier(model: nn.Module, images: torch.Tensor) -> None:
    """Shift the classifier's bias so that the mean logits on ``images`` are 0."""
    with torch.no_grad():
        model.fc.bias.data -= model.eval()(images).mean(0)


def smallest_sign_input(model: nn.Module, images: torch.Tensor) -> float:
    """The smallest |x| any binarizer sees: a value within float rounding of 0 could take
    another sign in TensorFlow, so the script refuses fixtures that come close."""
    found = []

    def hook(module, inputs, output):
        found.append(float(inputs[0].abs().min()))

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if type(m).__name__ == "BinaryActivation"]
    with torch.no_grad():
        model.eval()(images)
    for handle in handles:
        handle.remove()
    return min(found)


def checkpoint_of(model: nn.Module, epoch: int) -> dict:
    """The dict the official training script saves (train.py: epoch, state_dict of the
    DataParallel model, best_top1_acc, optimizer), with the Adam groups it builds."""
    wrapped = nn.DataParallel(model)
    state = copy.deepcopy(wrapped.state_dict())
    decayed = [p for name, p in wrapped.named_parameters()
               if p.ndimension() == 4 or "conv" in name]
    others = [p for p in wrapped.parameters() if all(p is not q for q in decayed)]
    optimizer = torch.optim.Adam([{"params": others},
                                  {"params": decayed, "weight_decay": 0.0}], lr=1.25e-3)
    # One step on the classifier only, so that the saved optimizer state has tensors but
    # stays small.
    model.fc.weight.grad = torch.ones_like(model.fc.weight)
    optimizer.step()
    model.fc.weight.grad = None
    wrapped.load_state_dict(state)  # the reference logits use the saved weights
    return {"epoch": epoch, "state_dict": state, "best_top1_acc": 41.5,
            "optimizer": optimizer.state_dict()}


def seeded_weights(shapes: dict[str, tuple[int, ...]], seed: int = SEED) -> dict:
    """ResNet-34's drawn weights (tests/checkpoints/test_reactnet_import.py has the same
    function): in sorted key order, convolution and linear weights N(0, 2/fan-in) (the
    classifier's three times larger), batch-norm γ U(0.5, 1.5), β N(0, 0.2²); running
    statistics and the classifier's bias are left to the model."""
    rng = np.random.RandomState(seed)
    out = {}
    for key in sorted(shapes):
        shape = tuple(shapes[key])
        if key.endswith(("running_mean", "running_var", "num_batches_tracked")) or (
                key == "fc.bias"):
            continue
        if len(shape) > 1:
            scale = np.sqrt(2.0 / np.prod(shape[1:])) * (3.0 if key == "fc.weight" else 1.0)
            out[key] = (rng.standard_normal(shape) * scale).astype(np.float32)
        elif key.endswith(".weight"):
            out[key] = rng.uniform(0.5, 1.5, shape).astype(np.float32)
        else:
            out[key] = (0.2 * rng.standard_normal(shape)).astype(np.float32)
    return out


def reactnet_fixtures(official: Path, out: Path, images, calibration) -> None:
    """The two narrow ReActNets; each from the first seed (21, 22, ...) whose fixture
    passes the checks (top-1 classes, distance of every binarizer input from 0)."""
    mobile = load(official / "mobilenet/2_step2/reactnet.py", "reactnet_step2")
    resnet = load(official / "resnet/2_step2/birealnet.py", "birealnet_step2")
    for name, build, plus_minus_one in (
            ("reactnet_a", lambda: narrow_reactnet(mobile, 10), False),
            ("reactnet_resnet18", lambda: narrow_birealnet(resnet, 10), True)):
        for seed in range(21, 71):
            torch.manual_seed(seed)  # the default initialisation of the layers left as they are
            model = build()
            randomize(model, torch.Generator().manual_seed(seed), plus_minus_one)
            recalibrate(model, list(calibration.split(16)))
            center_classifier(model, calibration)
            with torch.no_grad():
                logits = model.eval()(images).numpy()
            margin = smallest_sign_input(model, images)
            classes = len(set(logits.argmax(1).tolist()))
            if classes >= 4 and margin >= MARGIN:
                break
            print(f"{name}, seed {seed}: {classes} top-1 classes, smallest |sign input| "
                  f"{margin:.2g}; next seed")
        else:
            raise SystemExit(f"{name}: no seed passed the checks")
        torch.save(checkpoint_of(model, epoch=3), out / f"{name}_narrow.pth.tar")
        np.save(out / f"{name}_narrow_logits.npy", logits)
        top2 = np.sort(logits, axis=1)[:, -2:]
        print(name, "seed", seed, "logits scale", float(np.abs(logits).max()), "top-1",
              logits.argmax(1), "smallest top-1 margin",
              float((top2[:, 1] - top2[:, 0]).min()), "smallest |sign input|", margin)


def resnet34_fixtures(out: Path, images, calibration) -> None:
    model = torchvision.models.resnet34(num_classes=1000)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    drawn = seeded_weights(shapes)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in drawn.items()}, strict=False)
    recalibrate(model, list(calibration.split(16)))
    center_classifier(model, calibration)
    state = model.state_dict()
    stored = {k: state[k].numpy() for k in state
              if k.endswith(("running_mean", "running_var")) or k == "fc.bias"}
    stored["checksum"] = np.float64(sum(np.abs(v).astype(np.float64).sum()
                                        for v in drawn.values()))
    np.savez_compressed(out / "resnet34_bn.npz", **stored)
    with torch.no_grad():
        logits = model.eval()(images).numpy()
    classes = len(set(logits.argmax(1).tolist()))
    if classes < 4:
        raise SystemExit(f"resnet34: only {classes} distinct top-1 classes")
    np.save(out / "resnet34_logits.npy", logits)
    print("resnet34 logits scale", float(np.abs(logits).max()), "top-1", logits.argmax(1))


def layouts(official: Path, out: Path) -> None:
    models = {}
    for step in (1, 2):
        folder = {1: "1_step1", 2: "2_step2"}[step]
        mobile = load(official / f"mobilenet/{folder}/reactnet.py", f"reactnet_{step}")
        resnet = load(official / f"resnet/{folder}/birealnet.py", f"birealnet_{step}")
        models[f"reactnet_a_step{step}"] = mobile.reactnet(num_classes=1000)
        models[f"reactnet_resnet18_step{step}"] = resnet.birealnet18(num_classes=1000)
    models["resnet34"] = torchvision.models.resnet34(num_classes=1000)
    found = {name: {k: list(v.shape) for k, v in model.state_dict().items()}
             for name, model in models.items()}
    counts = {name: sum(p.numel() for p in model.parameters() if p.requires_grad)
              for name, model in models.items()}
    print("official trainable parameters:", counts)
    with open(out / "reactnet_layouts.json.gz", "wb") as f:
        f.write(gzip.compress(json.dumps(found, indent=0).encode(), mtime=0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--official", required=True, help="a checkout of liuzechun/ReActNet")
    parser.add_argument("--output", default="tests/fixtures")
    args = parser.parse_args()
    official, out = Path(args.official), Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(20)
    images = torch.randn((8, 3, 32, 32), generator=generator)
    calibration = torch.randn((128, 3, 32, 32), generator=generator)
    np.save(out / "reactnet_inputs.npy", images.permute(0, 2, 3, 1).numpy())
    reactnet_fixtures(official, out, images, calibration)
    resnet34_fixtures(out, images, calibration)
    layouts(official, out)


if __name__ == "__main__":
    main()
