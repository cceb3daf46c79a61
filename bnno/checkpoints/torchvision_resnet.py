"""torchvision's ResNet-34 checkpoint (``resnet34-b627a593.pth``, what
``resnet34(pretrained=True)`` loads: the teacher of ReActNet, AdamBNN and CEMA) on bnno's
``resnet34``.

The layout is torchvision's ``torchvision/models/resnet.py``: ``conv1``, ``bn1``,
``layer<s>.<b>`` basic blocks of ``conv1``, ``bn1``, ``conv2``, ``bn2`` (and
``downsample.0`` / ``.1``, a 1×1 convolution and batch norm, in the first block of
stages 2-4), ``fc``. bnno's layers carry these names (``bnno.checkpoints.named_layers``).
The file is a plain state dict (a ``state_dict`` entry and ``module.`` prefixes are
accepted too). The width comes from ``conv1`` (``width_multiplier`` = its channels / 64;
torchvision's own is 1).

Example:
    Check a torchvision state dict, then fill a built model::

        mapping = torchvision_resnet(state, "resnet34")
        net = models.get("resnet34")((224, 224, 3), mapping.num_classes, **mapping.hparams)
        mapping.assign(net)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bnno.checkpoints.files import torch_hub_checkpoints
from bnno.checkpoints.named_layers import Module, assign, batch_norm, conv, keys, problem
from bnno.checkpoints.registry import Mapping, register, register_source
from bnno.errors import BnnoError
from bnno.models.reactnet_layers import scaled_widths
from bnno.models.resnet34 import BLOCKS, WIDTHS


def layout(num_classes: int = 1000, width_multiplier: float = 1.0,
           channels: int = 3) -> list[Module]:
    """torchvision's ResNet-34 modules.

    Example:
        >>> found = keys(layout())
        >>> len(found), found["layer2.0.downsample.0.weight"]
        (218, (128, 64, 1, 1))
    """
    w = scaled_widths(WIDTHS, width_multiplier)
    modules = [conv("conv1", w[0], channels, 7), batch_norm("bn1", w[0])]
    inplanes = w[0]
    for stage, (planes, blocks) in enumerate(zip(w, BLOCKS, strict=True)):
        for b in range(blocks):
            p = f"layer{stage + 1}.{b}"
            modules += [conv(f"{p}.conv1", planes, inplanes, 3), batch_norm(f"{p}.bn1", planes),
                        conv(f"{p}.conv2", planes, planes, 3), batch_norm(f"{p}.bn2", planes)]
            if stage > 0 and b == 0:
                modules += [conv(f"{p}.downsample.0", planes, inplanes, 1),
                            batch_norm(f"{p}.downsample.1", planes)]
            inplanes = planes
    return modules + [Module("dense", "fc", {"weight": (num_classes, w[-1]),
                                             "bias": (num_classes,)})]


def infer(state: dict[str, np.ndarray]) -> dict[str, Any]:
    """The ``layout`` arguments of ``state``'s stem and classifier.

    Raises:
        BnnoError: it has no ``conv1.weight`` or ``fc.weight`` of the right rank.

    Example:
        >>> infer({k: np.zeros(s) for k, s in keys(layout(10, 0.5)).items()})
        {'num_classes': 10, 'width_multiplier': 0.5, 'channels': 3}
    """
    for key, rank in (("conv1.weight", 4), ("fc.weight", 2)):
        if key not in state or state[key].ndim != rank:
            raise BnnoError(f"the checkpoint does not fit resnet34: key '{key}' is missing "
                            f"(or not {rank}-D); it is not a torchvision ResNet state dict")
    return {"num_classes": int(state["fc.weight"].shape[0]),
            "width_multiplier": state["conv1.weight"].shape[0] / WIDTHS[0],
            "channels": int(state["conv1.weight"].shape[1])}


@register("resnet34")
def torchvision_resnet(state: dict[str, np.ndarray], model: str) -> Mapping:
    """The import of torchvision's ResNet-34 state dict: every key and shape checked now,
    written by ``Mapping.assign`` into a model built with ``Mapping.hparams``.

    Raises:
        BnnoError: the first missing, unexpected or mis-shaped key (a ResNet-18 or -50
            state dict is named as such), or a stem for other than 3 channels.

    Example:
        >>> state = {k: np.ones(s) for k, s in keys(layout()).items()}
        >>> mapping = torchvision_resnet(state, "resnet34")
        >>> mapping.hparams, mapping.num_classes
        ({}, 1000)
    """
    args = infer(state)
    modules = layout(**args)
    found = problem(state, keys(modules), model)
    if found is not None:
        depth = {2: "ResNet-18", 3: "ResNet-34"}.get(
            len({k.split(".")[1] for k in state if k.startswith("layer1.")}), "")
        bottleneck = any(k.endswith("conv3.weight") for k in state)
        other = "ResNet-50 or deeper" if bottleneck else depth
        hint = f"; it looks like torchvision's {other}" if other not in ("", "ResNet-34") else ""
        raise BnnoError(f"the checkpoint does not fit resnet34: {found}{hint}")
    if args["channels"] != 3:
        raise BnnoError(f"the checkpoint's stem takes {args['channels']} channels; bnno "
                        "imports ResNet-34 for RGB images (3 channels)")
    hparams = {} if args["width_multiplier"] == 1.0 else {
        "width_multiplier": args["width_multiplier"]}

    def fill(net) -> None:
        assign(net, modules, state)

    return Mapping(hparams, args["num_classes"], fill)


# What torchvision's ``resnet34(pretrained=True)`` downloads (torchvision/models/resnet.py,
# ``model_urls``), kept under its file name in torch hub's folder.
PRETRAINED_URL = "https://download.pytorch.org/models/resnet34-b627a593.pth"


def pretrained_file() -> Path:
    """The file of torchvision's ImageNet weights of ResNet-34, in torch hub's folder
    (``teacher_weights=torchvision``).

    Raises:
        BnnoError: it is not there; the message gives the URL to download.

    Example:
        By default ``~/.cache/torch/hub/checkpoints/resnet34-b627a593.pth``::

            path = pretrained_file()
    """
    path = torch_hub_checkpoints() / PRETRAINED_URL.rsplit("/", 1)[1]
    if not path.is_file():
        raise BnnoError(f"torchvision's resnet34 weights {path.name} are not in {path.parent}; "
                        f"download {PRETRAINED_URL} there, or give teacher_weights the path "
                        "of that file, a run of bnno import, or none")
    return path


register_source("torchvision", "resnet34", pretrained_file)
