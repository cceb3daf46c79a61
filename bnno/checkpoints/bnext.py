"""The official BNext checkpoints (hpi-xnor/BNext) on bnno's ``bnext_t/s/m/l`` and
``bnext_18``.

The official layout comes from its model code: ``src/bnext.py`` (``BNext``: a
``firstconv3x3`` stem in ``feature.0``, then ``feature.<i>`` blocks, each an
``Attention`` module — the ELM ``Attention`` class in even blocks from the second on,
``FFN_3x3`` otherwise, under the same attribute name — and one ``FFN`` or two
``FFN_1``/``FFN_2`` 1×1 modules) and ``src/birealnet.py`` (``BNext18``: ``conv1``,
``bn1``, ``layer0..3`` of ``BasicBlock`` with ``Attention`` and ``FFN``). Every
module holds ``move`` (learnable bias), ``binary_conv`` (weight and temperature),
``norm1``, ``norm2``, ``activation1``, ``activation2`` (PReLU), ``se.se.1``/``se.se.3``
(the SE convolutions) and ``scale`` (the mix); BNext-18's first ``Attention`` of a stage
also ``downsample.1``/``downsample.2``. Keys that the official forward pass never uses are
accepted and ignored: the stem's ``prelu``, ``activation1`` outside the ELM attention,
the activation binarizers' temperatures (a sign does not depend on a positive scale)
and batch-norm ``num_batches_tracked``.

Values as the official evaluation-mode forward pass uses them: convolution kernels
OIHW → HWIO, dense weights transposed, per-channel (1, C, 1, 1) parameters flattened,
batch norm with PyTorch's epsilon 1e-5, the binary convolutions' temperatures into
``bnext_weight``. The official ``FFN_1x1`` (BNext) and ``FFN_3x3`` (BNext-18) clamp
their mix scale to [0, 1] in every forward pass, evaluation included, so those scales
are clamped here; the other modules clamp only while training, so theirs are kept.

Example:
    Check a checkpoint's keys and shapes against BNext-T, then fill a built model::

        mapping = bnext(state, "bnext_t")   # BnnoError on the first bad key
        net = models.get("bnext_t")((224, 224, 3), mapping.num_classes, **mapping.hparams)
        mapping.assign(net)
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import numpy as np

from bnno.checkpoints.named_layers import fit, problem
from bnno.checkpoints.registry import Mapping, misfit, register
from bnno.errors import BnnoError
from bnno.models.bnext import WIDTHS

SIZES = {"bnext_t": "tiny", "bnext_s": "small", "bnext_m": "middle", "bnext_l": "large"}
MODELS = (*SIZES, "bnext_18")
BN_EPSILON = 1e-5  # PyTorch's nn.BatchNorm2d default, which the official code keeps


class Module(NamedTuple):
    """One official module that maps onto one Keras layer (``kind`` is the Keras class
    name; None: ignored), with its key prefix and the shape of each of its keys."""

    kind: str | None
    prefix: str
    shapes: dict[str, tuple[int, ...]]
    clamp: bool = False


def _conv(prefix, out, inp, k, bias=False):
    shapes = {"weight": (out, inp, k, k), **({"bias": (out,)} if bias else {})}
    return Module("Conv2D", prefix, shapes)


def _bn(prefix, c):
    return [Module("BatchNormalization", prefix, {"weight": (c,), "bias": (c,),
                                                  "running_mean": (c,),
                                                  "running_var": (c,)}),
            Module(None, prefix, {"num_batches_tracked": ()})]


def _prelu(prefix, c, used=True):
    return Module("PReLU" if used else None, prefix, {"weight": (c,)})


def _binary(prefix: str, inp: int, out: int, k: int, elm: bool, clamp: bool) -> list[Module]:
    """An official Attention / FFN_3x3 / FFN_1x1 module, in the order bnno's
    ``binary_module`` creates its layers (the ELM shortcut's PReLU comes first)."""
    return [
        _prelu(f"{prefix}.activation1", inp, used=elm),
        Module("LearnableBias", f"{prefix}.move", {"bias": (1, inp, 1, 1)}),
        Module(None, f"{prefix}.binary_activation", {"temperature": (1,)}),
        Module("QuantConv2D", f"{prefix}.binary_conv",
               {"weight": (out, inp, k, k), "temperature": (1,)}),
        *_bn(f"{prefix}.norm1", out),
        _prelu(f"{prefix}.activation2", out),
        Module("Mix", prefix, {"scale": (1, out, 1, 1)}, clamp),
        _conv(f"{prefix}.se.se.1", out // 8, out, 1, bias=True),
        _conv(f"{prefix}.se.se.3", out, out // 8, 1, bias=True),
        *_bn(f"{prefix}.norm2", out),
    ]


def _head(c: int, num_classes: int) -> list[Module]:
    return [_prelu("prelu", c), Module("Dense", "fc", {"weight": (num_classes, c),
                                                       "bias": (num_classes,)})]


def _widths(layout, width_multiplier: float) -> list[int]:
    # As bnno's builders scale widths.
    return [max(8, int(round(w * width_multiplier))) for w in layout]


def layout(model: str, num_classes: int = 1000, width_multiplier: float = 1.0,
           blocks: int = 0, blocks_per_stage: int = 2, channels: int = 3,
           imagenet_stem: bool = True) -> list[Module]:
    """The official modules of ``model`` with bnno's hparams, in bnno's layer order.

    Example:
        >>> modules = layout("bnext_t")
        >>> keys = {f"{m.prefix}.{k}": s for m in modules for k, s in m.shapes.items()}
        >>> len(keys), keys["feature.1.Attention.binary_conv.weight"]
        (661, (32, 32, 3, 3))
        >>> len(layout("bnext_18", blocks_per_stage=1, width_multiplier=0.125))
        110
    """
    if model == "bnext_18":
        return _layout_18(num_classes, width_multiplier, blocks_per_stage, channels,
                          imagenet_stem)
    full = WIDTHS[SIZES[model]]
    widths = _widths(full[:blocks + 1] if blocks else full, width_multiplier)
    modules = [_conv("feature.0.conv1", widths[0], channels, 3), *_bn("feature.0.bn1", widths[0]),
               _prelu("feature.0.prelu", widths[0], used=False)]
    for i in range(1, len(widths)):
        inp, planes, p = widths[i - 1], widths[i], f"feature.{i}"
        elm = i >= 2 and i % 2 == 0
        modules += _binary(f"{p}.Attention", inp, inp, 3, elm, clamp=False)
        ffns = ["FFN"] if planes == inp else ["FFN_1", "FFN_2"]
        for ffn in ffns:
            modules += _binary(f"{p}.{ffn}", inp, inp, 1, False, clamp=True)
    return modules + _head(widths[-1], num_classes)


def _layout_18(num_classes, width_multiplier, blocks_per_stage, channels, imagenet_stem):
    widths = _widths((64, 128, 256, 512), width_multiplier)
    k = 7 if imagenet_stem else 3
    modules = [_conv("conv1", widths[0], channels, k), *_bn("bn1", widths[0])]
    inplanes = widths[0]
    for stage, planes in enumerate(widths):
        for block in range(blocks_per_stage):
            p = f"layer{stage}.{block}"
            stride = 2 if stage > 0 and block == 0 else 1
            modules.append(_prelu(f"{p}.Attention.activation1", inplanes))
            if stride == 2 or inplanes != planes:
                modules += [_conv(f"{p}.Attention.downsample.1", planes, inplanes, 1),
                            *_bn(f"{p}.Attention.downsample.2", planes)]
            modules += _binary(f"{p}.Attention", inplanes, planes, 3, False, clamp=False)[1:]
            modules += _binary(f"{p}.FFN", planes, planes, 3, False, clamp=True)
            inplanes = planes
    return modules + _head(widths[-1], num_classes)


def keys(modules: list[Module]) -> dict[str, tuple[int, ...]]:
    """Key → shape of the official state dict of ``modules``.

    Example:
        >>> keys(layout("bnext_18"))["conv1.weight"]
        (64, 3, 7, 7)
    """
    return {f"{m.prefix}.{k}": s for m in modules for k, s in m.shapes.items()}


def infer(state: dict[str, np.ndarray], model: str) -> dict[str, Any] | None:
    """The ``layout`` arguments a state dict implies for ``model`` (None if it lacks the
    stem or classifier that tell them).

    Example:
        >>> state = {k: np.zeros(s) for k, s in keys(layout("bnext_t", 10, 0.25, 4)).items()}
        >>> infer(state, "bnext_t")
        {'num_classes': 10, 'width_multiplier': 0.25, 'channels': 3, 'blocks': 4}
    """
    stem = state.get("conv1.weight" if model == "bnext_18" else "feature.0.conv1.weight")
    fc = state.get("fc.weight")
    if stem is None or fc is None or stem.ndim != 4 or fc.ndim != 2:
        return None
    first = 64 if model == "bnext_18" else WIDTHS[SIZES[model]][0]
    found = {"num_classes": int(fc.shape[0]),
             "width_multiplier": round(stem.shape[0] / first, 6),
             "channels": int(stem.shape[1])}
    if model == "bnext_18":
        found["blocks_per_stage"] = len({k.split(".")[1] for k in state
                                         if re.match(r"layer0\.\d+\.", k)})
        found["imagenet_stem"] = stem.shape[-1] == 7
    else:
        last = max(int(k.split(".")[1]) for k in state if re.match(r"feature\.\d+\.", k))
        found["blocks"] = 0 if last == len(WIDTHS[SIZES[model]]) - 1 else last
    return found


def _problem(state: dict[str, np.ndarray], model: str) -> tuple[str | None, float]:
    """The first problem of ``state`` as ``model`` (None: none), and how well it fits
    (the share of keys with matching shapes)."""
    args = infer(state, model)
    if args is None:
        stem = "conv1.weight" if model == "bnext_18" else "feature.0.conv1.weight"
        missing = stem if stem not in state else "fc.weight"
        return f"key '{missing}' is missing", 0.0
    expected = keys(layout(model, **args))
    return problem(state, expected, model), fit(state, expected)


def check(state: dict[str, np.ndarray], model: str) -> dict[str, Any]:
    """The ``layout`` arguments of ``state`` as ``model``, after checking every key and
    shape.

    Raises:
        BnnoError: the first missing, unexpected or mis-shaped key, and the model of
            ``MODELS`` the state dict fits best.

    Example:
        >>> state = {k: np.zeros(s) for k, s in keys(layout("bnext_18", 10, 0.125)).items()}
        >>> check(state, "bnext_18")["width_multiplier"]
        0.125
        >>> check(state, "bnext_t")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        bnno.errors.BnnoError: the checkpoint does not fit bnext_t: ...; it fits bnext_18 (...)
    """
    found, _ = _problem(state, model)
    if found is None:
        return infer(state, model)
    raise misfit(model, found, {name: _problem(state, name) for name in MODELS})


def _order(layer) -> int:
    # Keras numbers layers of one class in creation order: name, name_1, name_2, ...
    suffix = layer.name.rsplit("_", 1)[-1]
    return int(suffix) if suffix.isdigit() else 0


def _fill(layer, module: Module, state: dict[str, np.ndarray], check_only: bool) -> None:
    def get(name):
        return state[f"{module.prefix}.{name}"]

    key = module.prefix

    def _assign(variable, value: np.ndarray, key: str) -> None:
        if tuple(variable.shape) != np.shape(value):
            raise BnnoError(f"key '{key}' maps to {variable.name} of shape "
                            f"{tuple(variable.shape)}, not {np.shape(value)}")
        if not check_only:
            variable.assign(np.asarray(value, dtype=np.float32))

    if module.kind in ("Conv2D", "QuantConv2D"):
        _assign(layer.kernel, get("weight").transpose(2, 3, 1, 0), key)
        if "bias" in module.shapes:
            _assign(layer.bias, get("bias"), key)
        if module.kind == "QuantConv2D":
            _assign(layer.kernel_quantizer.temperature, get("temperature").reshape(()), key)
    elif module.kind == "BatchNormalization":
        if abs(layer.epsilon - BN_EPSILON) > 1e-12:
            raise BnnoError(f"{layer.name} has epsilon {layer.epsilon}; the official "
                            f"batch norm '{key}' uses {BN_EPSILON}")
        for variable, name in ((layer.gamma, "weight"), (layer.beta, "bias"),
                               (layer.moving_mean, "running_mean"),
                               (layer.moving_variance, "running_var")):
            _assign(variable, get(name), key)
    elif module.kind == "PReLU":
        _assign(layer.alpha, get("weight").reshape(layer.alpha.shape), key)
    elif module.kind == "LearnableBias":
        _assign(layer.bias, get("bias").reshape(-1), key)
    elif module.kind == "Mix":
        scale = get("scale").reshape(-1)
        _assign(layer.scale, np.clip(scale, 0, 1) if module.clamp else scale, key)
    elif module.kind == "Dense":
        _assign(layer.kernel, get("weight").T, key)
        _assign(layer.bias, get("bias"), key)


def fill(net, modules: list[Module], state: dict[str, np.ndarray],
         check_only: bool = False) -> None:
    """Write ``state`` into the built bnno model ``net`` whose official layout is
    ``modules``: the n-th module of a kind goes into the n-th Keras layer of that class.
    With ``check_only`` only check that every value fits its variable.

    Raises:
        BnnoError: the model has other layers than the layout (it was built with other
            hparams), or a value's shape differs from its variable's.

    Example:
        Fill a narrow BNext-18 built with the hparams ``check`` found::

            args = check(state, "bnext_18")
            fill(net, layout("bnext_18", **args), state)
    """
    layers: dict[str, list] = {}
    for layer in sorted(net.layers, key=_order):
        layers.setdefault(type(layer).__name__, []).append(layer)
    wanted: dict[str, list[Module]] = {}
    for module in modules:
        if module.kind:
            wanted.setdefault(module.kind, []).append(module)
    for kind, group in wanted.items():
        found = layers.get(kind, [])
        if len(found) != len(group):
            raise BnnoError(f"{net.name} has {len(found)} {kind} layers, the checkpoint "
                            f"{len(group)}; build it with the hparams the import found")
        for layer, module in zip(found, group, strict=True):
            _fill(layer, module, state, check_only)


@register(*MODELS)
def bnext(state: dict[str, np.ndarray], model: str) -> Mapping:
    """The import of an official BNext state dict as ``model``: checked now, written by
    ``Mapping.assign`` into a model built with ``Mapping.hparams``.

    Raises:
        BnnoError: see ``check``.

    Example:
        >>> state = {k: np.ones(s) for k, s in keys(layout("bnext_t", 10, 0.25, 4)).items()}
        >>> mapping = bnext(state, "bnext_t")
        >>> mapping.hparams, mapping.num_classes
        ({'width_multiplier': 0.25, 'blocks': 4}, 10)
    """
    args = check(state, model)
    if args["channels"] != 3:
        raise BnnoError(f"the checkpoint's stem takes {args['channels']} channels; bnno "
                        "imports BNext for RGB images (3 channels)")
    defaults = {"width_multiplier": 1.0, "blocks": 0, "blocks_per_stage": 2}
    hparams = {k: v for k, v in args.items() if k in defaults and v != defaults[k]}
    modules = layout(model, **args)

    def assign(net) -> None:
        fill(net, modules, state)

    return Mapping(hparams, args["num_classes"], assign)
