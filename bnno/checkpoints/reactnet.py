"""The official ReActNet checkpoints (liuzechun/ReActNet; AdamBNN's and CEMA's ReActNet-A)
on bnno's ``reactnet_a`` and ``reactnet_resnet18``.

The official layout comes from the model code: ReActNet-A (``mobilenet/*/reactnet.py``):
``feature.0.conv1``/``bn1`` (stem), then ``feature.<i>`` blocks of ``move11``,
``binary_3x3``, ``bn1``, ``move12``, ``prelu1``, ``move13``, ``move21``, ``binary_pw`` and
``bn2`` (or, where the width doubles, ``binary_pw_down1/2`` and ``bn2_1/2``), ``move22``,
``prelu2``, ``move23``; ``fc``. ReAct-ResNet-18 (``resnet/*/birealnet.py``): ``conv1``,
``bn1``, ``layer<s>.<b>`` blocks of ``move0``, ``binary_conv``, ``bn1``, ``move1``,
``prelu``, ``move2`` (and ``downsample.1``/``.2`` in the first block of stages 2-4);
``fc``. bnno's layers carry these names (``bnno.checkpoints.named_layers``).

Step 2's binary weights come in two forms, both accepted: the official ReActNet-A's
``HardBinaryConv`` keeps ``weights`` of shape (N, 1) (N = out·in·k·k, viewed as OIHW),
ReAct-ResNet-18's, AdamBNN's and CEMA's keep ``weight`` in 4-D. The step-2 forward pass
binarizes either to mean |w| · sign(w) per output channel, as bnno's ``react_weight``
does, so the values go in as they are. A **step-1** checkpoint (binary activations, real
weights) keeps ``weight`` in 4-D too, under the same names: a 4-D kernel is taken as
step 2 only when it already holds ±α per output channel (the re-uploaded official
models store exactly ±1, with the batch norms recalibrated; CEMA's kernels are ±1), and a
checkpoint with real-valued 4-D kernels is refused as step 1 in one line. A step-2
training checkpoint saved with latent 4-D weights (AdamBNN's, ReAct-ResNet-18's) has
that form as well and is refused with it: binarize its kernels (mean |w| · sign(w), which
computes the same) to import it.

The width comes from the stem (``width_multiplier`` = stem channels / 32 for ReActNet-A,
/ 64 for ReAct-ResNet-18); every other width must be the official ratio of it. ReActNet-A
has one stem for any input (bnno picks its stride by input size); ReAct-ResNet-18's 7×7
stem is ImageNet's, and bnno gives inputs of 64×64 or smaller a 3×3 stem, so a
checkpoint imports for the inputs its stem was made for.

Example:
    Check a checkpoint's keys and shapes against ReActNet-A, then fill a built model::

        mapping = reactnet(state, "reactnet_a")   # BnnoError on the first bad key
        net = models.get("reactnet_a")((224, 224, 3), mapping.num_classes, **mapping.hparams)
        mapping.assign(net)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bnno.checkpoints.named_layers import (
    Module,
    assign,
    batch_norm,
    conv,
    fit,
    keys,
    problem,
)
from bnno.checkpoints.registry import Mapping, misfit, register
from bnno.errors import BnnoError
from bnno.models.reactnet_a import WIDTHS as REACTNET_A
from bnno.models.reactnet_layers import scaled_widths
from bnno.models.reactnet_resnet18 import BLOCKS
from bnno.models.reactnet_resnet18 import WIDTHS as RESNET18

MODELS = ("reactnet_a", "reactnet_resnet18")
STEMS = {"reactnet_a": "feature.0.conv1.weight", "reactnet_resnet18": "conv1.weight"}


def _bias(prefix: str, c: int) -> Module:
    return Module("bias", prefix, {"bias": (1, c, 1, 1)})


def _rprelu(prefix: str, names: tuple[str, str, str], c: int) -> list[Module]:
    return [_bias(f"{prefix}.{names[0]}", c),
            Module("prelu", f"{prefix}.{names[1]}", {"weight": (c,)}),
            _bias(f"{prefix}.{names[2]}", c)]


def _head(c: int, num_classes: int) -> list[Module]:
    return [Module("dense", "fc", {"weight": (num_classes, c), "bias": (num_classes,)})]


def _reactnet_a(num_classes: int, width_multiplier: float, channels: int) -> list[Module]:
    w = scaled_widths(REACTNET_A, width_multiplier)
    modules = [conv("feature.0.conv1", w[0], channels, 3), batch_norm("feature.0.bn1", w[0])]
    for i in range(1, len(w)):
        p, inp = f"feature.{i}", w[i - 1]
        modules += [_bias(f"{p}.move11", inp), conv(f"{p}.binary_3x3", inp, inp, 3),
                    batch_norm(f"{p}.bn1", inp), *_rprelu(p, ("move12", "prelu1", "move13"), inp),
                    _bias(f"{p}.move21", inp)]
        if w[i] == inp:
            modules += [conv(f"{p}.binary_pw", inp, inp, 1), batch_norm(f"{p}.bn2", inp)]
        else:
            modules += [conv(f"{p}.binary_pw_down1", inp, inp, 1),
                        conv(f"{p}.binary_pw_down2", inp, inp, 1),
                        batch_norm(f"{p}.bn2_1", inp), batch_norm(f"{p}.bn2_2", inp)]
        modules += _rprelu(p, ("move22", "prelu2", "move23"), w[i])
    return modules + _head(w[-1], num_classes)


def _reactnet_resnet18(num_classes: int, width_multiplier: float, channels: int,
                       stem: int) -> list[Module]:
    w = scaled_widths(RESNET18, width_multiplier)
    modules = [conv("conv1", w[0], channels, stem), batch_norm("bn1", w[0])]
    inplanes = w[0]
    for stage, planes in enumerate(w):
        for b in range(BLOCKS):
            p = f"layer{stage + 1}.{b}"
            modules += [_bias(f"{p}.move0", inplanes), conv(f"{p}.binary_conv", planes,
                                                            inplanes, 3),
                        batch_norm(f"{p}.bn1", planes)]
            if stage > 0 and b == 0:
                modules += [conv(f"{p}.downsample.1", planes, inplanes, 1),
                            batch_norm(f"{p}.downsample.2", planes)]
            modules += _rprelu(p, ("move1", "prelu", "move2"), planes)
            inplanes = planes
    return modules + _head(w[-1], num_classes)


def layout(model: str, num_classes: int = 1000, width_multiplier: float = 1.0,
           channels: int = 3, stem: int = 7) -> list[Module]:
    """The official modules of ``model`` (binary weights in their 4-D form). ``stem`` is
    ReAct-ResNet-18's first kernel size (7: ImageNet's; 3: bnno's for small inputs).

    Example:
        >>> found = keys(layout("reactnet_a"))
        >>> len(found), found["feature.12.binary_pw_down2.weight"]
        (298, (512, 512, 1, 1))
        >>> keys(layout("reactnet_resnet18", stem=3))["conv1.weight"]
        (64, 3, 3, 3)
    """
    if model == "reactnet_a":
        return _reactnet_a(num_classes, width_multiplier, channels)
    return _reactnet_resnet18(num_classes, width_multiplier, channels, stem)


def binary_keys(modules: list[Module]) -> list[str]:
    """The keys of the binary convolutions' weights (4-D form).

    Example:
        >>> len(binary_keys(layout("reactnet_a"))), len(binary_keys(layout("reactnet_resnet18")))
        (31, 16)
    """
    return [f"{m.prefix}.weight" for m in modules
            if m.kind == "conv" and m.prefix.rsplit(".", 1)[-1].startswith("binary")]


def infer(state: dict[str, np.ndarray], model: str) -> dict[str, Any] | None:
    """The ``layout`` arguments the stem and classifier of ``state`` imply for ``model``
    (None if it lacks them).

    Example:
        >>> state = {k: np.zeros(s) for k, s in keys(layout("reactnet_a", 10, 0.0625)).items()}
        >>> infer(state, "reactnet_a")
        {'num_classes': 10, 'width_multiplier': 0.0625, 'channels': 3}
    """
    stem, fc = state.get(STEMS[model]), state.get("fc.weight")
    if stem is None or fc is None or stem.ndim != 4 or fc.ndim != 2:
        return None
    first = (REACTNET_A if model == "reactnet_a" else RESNET18)[0]
    found = {"num_classes": int(fc.shape[0]), "width_multiplier": stem.shape[0] / first,
             "channels": int(stem.shape[1])}
    if model == "reactnet_resnet18":
        found["stem"] = int(stem.shape[-1])
    return found


def _four_d(state: dict[str, np.ndarray], modules: list[Module]) -> tuple[dict, list[str]]:
    """``state`` with every binary weight stored ``weights`` (N, 1) viewed as the official
    ``view(out, in, k, k)``, and the keys so converted."""
    state, converted = dict(state), []
    shapes = keys(modules)
    for key in binary_keys(modules):
        flat = state.get(key + "s")
        if key not in state and flat is not None and flat.shape == (
                int(np.prod(shapes[key])), 1):
            state[key] = flat.reshape(shapes[key])
            del state[key + "s"]
            converted.append(key)
    return state, converted


def _problem(state: dict[str, np.ndarray], model: str) -> tuple[str | None, float]:
    """The first problem of ``state`` as ``model`` (None: none) and how well it fits."""
    args = infer(state, model)
    if args is None:
        missing = STEMS[model] if STEMS[model] not in state else "fc.weight"
        return f"key '{missing}' is missing", 0.0
    modules = layout(model, **args)
    expected = keys(modules)
    state, _ = _four_d(state, modules)
    found = problem(state, expected, model)
    for key in binary_keys(modules):
        flat = state.get(key + "s")
        if key not in state and flat is not None:  # (N, 1) of another size
            found = (f"key '{key}s' has shape {tuple(flat.shape)}, {model} needs "
                     f"({int(np.prod(expected[key]))}, 1) or {expected[key]} as '{key}'")
            break
    return found, fit(state, expected)


def _step_one(state: dict[str, np.ndarray], modules: list[Module]) -> str | None:
    """The first binary kernel stored 4-D with real values (not ±α per output channel)."""
    for key in binary_keys(modules):
        if key not in state:
            continue  # stored (N, 1): step 2's latent weights
        magnitude = np.abs(state[key]).reshape(state[key].shape[0], -1)
        if not np.all(magnitude == magnitude[:, :1]):
            return key
    return None


def check(state: dict[str, np.ndarray], model: str) -> tuple[dict[str, Any], dict, list[str]]:
    """The ``layout`` arguments of ``state`` as ``model``, the state with its binary
    weights in 4-D form, and the keys stored (N, 1), after checking every key and shape
    and the step.

    Raises:
        BnnoError: the first missing, unexpected or mis-shaped key with the model of
            ``MODELS`` the state dict fits best, or a step-1 checkpoint.

    Example:
        >>> state = {k: np.ones(s) for k, s in keys(layout("reactnet_a", 10, 0.0625)).items()}
        >>> check(state, "reactnet_a")[0]["width_multiplier"]
        0.0625
        >>> check(state, "reactnet_resnet18")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        bnno.errors.BnnoError: the checkpoint does not fit reactnet_resnet18: key 'conv1.weight' \
is missing; it fits reactnet_a (all keys and shapes)
    """
    found, _ = _problem(state, model)
    if found is not None:
        raise misfit(model, found, {name: _problem(state, name) for name in MODELS})
    args = infer(state, model)
    modules = layout(model, **args)
    four_d, converted = _four_d(state, modules)
    real = _step_one(state, modules)
    if real is not None:
        raise BnnoError(
            f"this is a step-1 checkpoint of {model} (binary activations, real weights): its "
            f"binary convolutions hold real-valued 4-D kernels ('{real}'), as step 1 saves "
            "them; bnno imports step-2 checkpoints, whose binary weights are stored (N, 1) or "
            "as ±1 (a step-2 checkpoint with latent 4-D kernels looks the same: binarize them)")
    return args, four_d, converted


@register(*MODELS)
def reactnet(state: dict[str, np.ndarray], model: str) -> Mapping:
    """The import of an official ReActNet state dict as ``model``: checked now, written by
    ``Mapping.assign`` into a model built with ``Mapping.hparams``.

    Raises:
        BnnoError: see ``check``; also a stem for other than 3 input channels.

    Example:
        >>> state = {k: np.ones(s) for k, s in keys(layout("reactnet_a", 10, 0.0625)).items()}
        >>> mapping = reactnet(state, "reactnet_a")
        >>> mapping.hparams, mapping.num_classes, mapping.info
        ({'width_multiplier': 0.0625}, 10, {'step': 2, 'binary_weights': '4-D'})
    """
    args, four_d, converted = check(state, model)
    if args["channels"] != 3:
        raise BnnoError(f"the checkpoint's stem takes {args['channels']} channels; bnno "
                        "imports ReActNet for RGB images (3 channels)")
    hparams = {"width_multiplier": args["width_multiplier"]}
    if hparams["width_multiplier"] == 1.0:
        hparams = {}
    modules = layout(model, **args)
    form = "(N, 1)" if converted else "4-D"

    def fill(net) -> None:
        assign(net, modules, four_d)

    return Mapping(hparams, args["num_classes"], fill, {"step": 2, "binary_weights": form})
