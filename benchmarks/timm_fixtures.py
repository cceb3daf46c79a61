"""Generate the timm import fixtures in tests/fixtures/ from timm's own code.

Not run by the test suite: it needs PyTorch, timm 0.6.11 (the version BNext's
``requirements.txt`` pins) and the ``safetensors`` package; the fixtures were made with
timm 0.6.11, PyTorch 2.14.1 and safetensors 0.8.0 on Python 3.11.7. It writes:

- ``efficientnet_b0/b2/b4_narrow.pth``, ``convnext_tiny_narrow.pth``: timm state dicts
  (as timm's released weight files hold them) of narrow models built by timm's own
  builders — ``_gen_efficientnet``, which ``efficientnet_b0/b2/b4`` call, at channel
  multiplier 0.05 with channel divisor 4 and the variants' own depth multipliers (1.0,
  1.2, 1.8: 16, 23 and 32 blocks, every block kind, stride and skip of the full models),
  and ``_create_convnext`` with widths (4, 8, 16, 32) and depths (2, 2, 3, 2) — with
  random, non-trivial weights: batch-norm statistics, layer-norm affines, layer scales
  far from their 1e-6 start; batch-norm statistics are those of a batch of random
  images (as training leaves them), perturbed. The EfficientNets' files are in PyTorch's
  legacy (pre-1.6) format, as older released weights may be, and smaller than zip files;
  B4's omits ``num_batches_tracked``, as newer files may; ConvNeXt's is a zip file. The
  EfficientNets' tensors are stored as float16 (values rounded to float16 before the
  reference runs) to keep the files small; ConvNeXt's are float32.
- ``<model>_narrow.safetensors``: the same state dicts written by ``safetensors.torch``
  with ``{"format": "pt"}`` metadata, the form timm publishes on the Hugging Face hub.
- ``convnext_tiny_narrow_facebook.pth``: the ConvNeXt in Facebook's original layout
  (``{"model": ...}``, ``downsample_layers``/``dwconv``/``pwconv`` names), the form
  timm 0.6.11 downloads for ``convnext_tiny``; the script checks that timm's
  ``checkpoint_filter_fn`` turns it back into the timm state dict exactly.
- ``timm_inputs.npy``: eight 32×40×3 images (NHWC, float16 values) and
  ``<model>_narrow_logits.npy``: timm's logits on them in eval mode (float32). The
  classifier's bias cancels the median logits of a separate batch of random images, so
  that the top-1 class depends on the image (the script requires four distinct classes).
- ``timm_layouts.json.gz``: key → shape of the full-size ``efficientnet_b0/b2/b4`` and
  ``convnext_tiny`` (1000 classes) as timm 0.6.11 builds them, and of ``convnext_tiny``
  in Facebook's names (``convnext_tiny_facebook``).
- ``safetensors_dtypes.safetensors``: one small tensor of each dtype the reader knows
  (and a scalar, an empty tensor, metadata), written by ``safetensors.torch``.

timm 0.6.11's ``maxxvit.py`` (a model family nothing here builds) declares a dataclass
default that Python 3.11 refuses, which breaks ``import timm``; the script registers an
empty module under its name first (timm 0.6.12 fixed it upstream).

Usage::

    python benchmarks/timm_fixtures.py --output tests/fixtures
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import re
import sys
import types
from pathlib import Path

import numpy as np
import torch
from torch import nn

NARROW_EFFICIENTNETS = {"efficientnet_b0": 1.0, "efficientnet_b2": 1.2, "efficientnet_b4": 1.8}
NARROW_CONVNEXT = {"dims": (4, 8, 16, 32), "depths": (1, 1, 3, 1)}
IMAGE = (32, 40)
CLASSES = 10


def import_timm():
    sys.modules.setdefault("timm.models.maxxvit", types.ModuleType("timm.models.maxxvit"))
    import timm

    if timm.__version__ != "0.6.11":
        raise SystemExit(f"timm {timm.__version__}: the fixtures come from timm 0.6.11")
    return timm


def randomize(model: nn.Module, generator: torch.Generator) -> None:
    """Non-trivial values for everything the import maps."""
    def uniform(shape, low, high):
        return low + (high - low) * torch.rand(shape, generator=generator)

    def normal(shape, std):
        return std * torch.randn(shape, generator=generator)

    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            w = module.weight
            fan_in = math.prod(w.shape[1:])
            gain = 3.0 if name in ("classifier", "head.fc") else math.sqrt(2.0)
            w.data = normal(w.shape, gain / math.sqrt(fan_in))
            if module.bias is not None:
                module.bias.data = normal(module.bias.shape, 0.1)
        elif isinstance(module, nn.BatchNorm2d):  # timm's BatchNormAct2d among them
            module.weight.data = uniform(module.weight.shape, 0.5, 1.5)
            module.bias.data = normal(module.bias.shape, 0.2)
        elif isinstance(module, nn.LayerNorm):  # timm's LayerNorm and LayerNorm2d
            module.weight.data = uniform(module.weight.shape, 0.5, 1.5)
            module.bias.data = normal(module.bias.shape, 0.2)
        if isinstance(getattr(module, "gamma", None), nn.Parameter):
            module.gamma.data = uniform(module.gamma.shape, 0.2, 1.0)


def calibrate(model: nn.Module, images: torch.Tensor) -> None:
    """Batch-norm statistics of ``images`` (a cumulative average over four batches), as
    training would leave them, so that activations neither vanish nor explode through
    the depth and the logits depend on the image; then each channel's mean and variance
    are perturbed (×U(0.8, 1.25) and +N(0, 0.1²)) so that they are not the exact ones."""
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
    model.train()
    with torch.no_grad():
        for batch in images.chunk(4):
            model(batch)
    generator = torch.Generator().manual_seed(7)
    for norm in norms:
        norm.momentum = 0.1
        shape = norm.running_var.shape
        norm.running_var *= 0.8 + 0.45 * torch.rand(shape, generator=generator)
        norm.running_mean += 0.1 * torch.randn(shape, generator=generator)
        norm.num_batches_tracked.fill_(1234)


def center_classifier(model: nn.Module, images: torch.Tensor) -> None:
    """Shift the classifier's bias so that the median logits on ``images`` are 0 (the
    median: a few images with large logits would dominate a mean)."""
    with torch.no_grad():
        median = model.eval()(images).median(0).values
    model.get_classifier().bias.data -= median


def to_float16_values(model: nn.Module) -> None:
    """Round every float tensor to a float16 value (kept as float32 in the model)."""
    with torch.no_grad():
        for value in model.state_dict().values():
            if value.is_floating_point():
                value.copy_(value.half().float())


# timm's names → Facebook's, the inverse of timm's convnext.checkpoint_filter_fn.
TO_FACEBOOK = ((r"^stem\.", "downsample_layers.0."),
               (r"^stages\.(\d+)\.downsample\.(\d+)\.", r"downsample_layers.\1.\2."),
               (r"^stages\.(\d+)\.blocks\.(\d+)\.", r"stages.\1.\2."),
               (r"\.conv_dw\.", ".dwconv."), (r"\.mlp\.fc(\d)\.", r".pwconv\1."),
               (r"^head\.fc\.", "head."), (r"^head\.norm\.", "norm."))


def to_facebook(state: dict) -> dict:
    out = {}
    for key, value in state.items():
        for pattern, new in TO_FACEBOOK:
            key = re.sub(pattern, new, key)
        out[key] = value
    return out


def check_facebook(timm, state: dict, model: nn.Module) -> dict:
    """Facebook's form of ``state``, checked against timm's own remapping."""
    from timm.models.convnext import checkpoint_filter_fn

    facebook = to_facebook(state)
    back = checkpoint_filter_fn({"model": facebook}, model)
    if list(back) != list(state) or not all(torch.equal(back[k], state[k]) for k in state):
        raise SystemExit("timm's checkpoint_filter_fn does not invert to_facebook")
    return facebook


def narrow_models(timm) -> dict[str, nn.Module]:
    from timm.models.convnext import _create_convnext
    from timm.models.efficientnet import _gen_efficientnet

    models = {name: _gen_efficientnet(name, channel_multiplier=0.05, depth_multiplier=depth,
                                      channel_divisor=4, num_classes=CLASSES)
              for name, depth in NARROW_EFFICIENTNETS.items()}
    models["convnext_tiny"] = _create_convnext("convnext_tiny", num_classes=CLASSES,
                                               **NARROW_CONVNEXT)
    return models


def save(out: Path, name: str, model: nn.Module, timm) -> None:
    from safetensors.torch import save_file

    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if name.startswith("efficientnet"):
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    if name == "efficientnet_b4":  # as newer files, which may omit it
        state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    legacy = name.startswith("efficientnet")
    torch.save(state, out / f"{name}_narrow.pth", _use_new_zipfile_serialization=not legacy)
    save_file(state, str(out / f"{name}_narrow.safetensors"), metadata={"format": "pt"})
    if name == "convnext_tiny":
        torch.save({"model": check_facebook(timm, state, model)},
                   out / f"{name}_narrow_facebook.pth")


def write_dtypes(out: Path) -> None:
    from safetensors.torch import save_file

    base = torch.arange(-3, 3).reshape(2, 3)
    tensors = {f"float_{t}": (base / 4).to(getattr(torch, t))
               for t in ("float64", "float32", "float16", "bfloat16")}
    tensors.update({f"int_{t}": base.to(getattr(torch, t))
                    for t in ("int64", "int32", "int16", "int8")})
    tensors["uint8"] = (base + 3).to(torch.uint8)
    tensors["bool"] = base % 2 == 0
    tensors["scalar"] = torch.tensor(2.5)
    tensors["empty"] = torch.zeros((0, 3))
    save_file(tensors, str(out / "safetensors_dtypes.safetensors"),
              metadata={"format": "pt", "note": "bnno reader test"})


def layouts(timm) -> dict[str, dict[str, list[int]]]:
    found = {}
    for name in ("efficientnet_b0", "efficientnet_b2", "efficientnet_b4", "convnext_tiny"):
        model = getattr(timm.models, name)(pretrained=False)
        state = model.state_dict()
        found[name] = {k: list(v.shape) for k, v in state.items()}
        params = sum(p.numel() for p in model.parameters())
        print(name, "full size: parameters", params, "state keys", len(state))
        if name == "convnext_tiny":
            facebook = check_facebook(timm, state, model)
            found["convnext_tiny_facebook"] = {k: list(v.shape) for k, v in facebook.items()}
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="tests/fixtures")
    args = parser.parse_args()
    timm = import_timm()
    import safetensors

    print("timm", timm.__version__, "torch", torch.__version__, "safetensors",
          safetensors.__version__, "python", sys.version.split()[0])
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(24)
    generator = torch.Generator().manual_seed(24)
    images = torch.randn((8, 3, *IMAGE), generator=generator).half().float()
    calibration = torch.randn((64, 3, *IMAGE), generator=generator)
    np.save(out / "timm_inputs.npy", images.permute(0, 2, 3, 1).numpy().astype(np.float16))
    for name, model in narrow_models(timm).items():
        randomize(model, generator)
        calibrate(model, calibration)
        center_classifier(model, calibration)
        if name.startswith("efficientnet"):
            to_float16_values(model)
        save(out, name, model, timm)
        with torch.no_grad():
            logits = model.eval()(images).numpy()
        classes = len(set(logits.argmax(1).tolist()))
        if classes < 4:
            raise SystemExit(f"{name}: only {classes} distinct top-1 classes")
        np.save(out / f"{name}_narrow_logits.npy", logits)
        top2 = np.sort(logits, axis=1)[:, -2:]
        print(name, "narrow: parameters", sum(p.numel() for p in model.parameters()),
              "logits scale", float(np.abs(logits).max()), "top-1", logits.argmax(1),
              "smallest top-1 margin", float((top2[:, 1] - top2[:, 0]).min()))
    write_dtypes(out)
    text = json.dumps(layouts(timm), indent=0).encode()
    with open(out / "timm_layouts.json.gz", "wb") as f:
        f.write(gzip.compress(text, mtime=0))


if __name__ == "__main__":
    main()
