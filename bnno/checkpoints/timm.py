"""timm's checkpoints of ``efficientnet_b0/b2/b4`` and ``convnext_tiny`` on bnno's models of
the same names (``bnno.models.efficientnet``, ``bnno.models.convnext``).

The layouts are those of timm 0.6.11's modules (``timm/models/efficientnet.py``,
``efficientnet_blocks.py``, ``convnext.py``): for EfficientNet ``conv_stem``, ``bn1``,
``blocks.<stage>.<i>`` (``conv_dw``, ``bn1``, ``se.conv_reduce``, ``se.conv_expand``,
``conv_pw``, ``bn2`` in the first stage's depthwise-separable blocks; ``conv_pw``, ``bn1``,
``conv_dw``, ``bn2``, the two SE convolutions, ``conv_pwl``, ``bn3`` in the others),
``conv_head``, ``bn2``, ``classifier``; for ConvNeXt ``stem.0``/``stem.1``,
``stages.<s>.downsample.0``/``.1`` (stages 1–3), ``stages.<s>.blocks.<i>`` (``gamma``,
``conv_dw``, ``norm``, ``mlp.fc1``, ``mlp.fc2``), ``head.norm``, ``head.fc``. Facebook's
original ConvNeXt files, which timm 0.6.11 downloads for ``convnext_tiny``
(``{"model": ...}`` with ``downsample_layers``, ``dwconv``, ``pwconv1``, ``norm``,
``head`` names), are renamed as timm's ``checkpoint_filter_fn`` renames them. Batch norm's
``num_batches_tracked`` is accepted and ignored, present or not (newer files omit it).

Values: convolution kernels OIHW → HWIO, depthwise kernels (C, 1, k, k) → (k, k, C, 1),
dense weights transposed; batch norm (ε 1e-5) and layer norm (ε 1e-6) as they are.

Both forms timm publishes are read without running code from them, the reader chosen by
the file's content (``bnno.checkpoints.files``, which ``bnno import`` uses): ``.pth`` by
``bnno.checkpoints.pth``, ``.safetensors`` by ``bnno.checkpoints.safetensors``.

Example:
    Check timm's EfficientNet-B2 weights, then fill a built model::

        state = read("efficientnet_b2_ra-bcdf34b7.pth")
        mapping = timm_import(state, "efficientnet_b2")  # BnnoError on the first bad key
        net = models.get("efficientnet_b2")((224, 224, 3), 1000, **mapping.hparams)
        mapping.assign(net)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from bnno.checkpoints.files import load as load_checkpoint
from bnno.checkpoints.files import torch_hub_checkpoints
from bnno.checkpoints.registry import Mapping, misfit, register, register_source, state_dict
from bnno.errors import BnnoError
from bnno.models import convnext, efficientnet

EFFICIENTNETS = tuple(efficientnet.VARIANTS)
MODELS = (*EFFICIENTNETS, "convnext_tiny")
EPSILONS = {"BatchNormalization": efficientnet.BN_EPSILON,
            "LayerNormalization": convnext.LN_EPSILON}


class Module(NamedTuple):
    """One timm module (or parameter) that maps onto one Keras layer: ``kind`` is how
    its values are laid out, ``layer`` the Keras layer's name, ``shapes`` key → shape."""

    kind: str  # conv, depthwise, bn, ln, dense or scale
    prefix: str
    layer: str
    shapes: dict[str, tuple[int, ...]]


def _conv(prefix, out, inp, k, bias=False):
    return Module("conv", prefix, prefix,
                  {"weight": (out, inp, k, k), **({"bias": (out,)} if bias else {})})


def _depthwise(prefix, c, k, bias=False):
    return Module("depthwise", prefix, prefix,
                  {"weight": (c, 1, k, k), **({"bias": (c,)} if bias else {})})


def _bn(prefix, c):
    return Module("bn", prefix, prefix, {"weight": (c,), "bias": (c,), "running_mean": (c,),
                                         "running_var": (c,)})


def _ln(prefix, c):
    return Module("ln", prefix, prefix, {"weight": (c,), "bias": (c,)})


def _dense(prefix, out, inp, layer=None):
    return Module("dense", prefix, layer or prefix, {"weight": (out, inp), "bias": (out,)})


def _se(block: efficientnet.Block) -> list[Module]:
    p = f"{block.name}.se"
    return [_conv(f"{p}.conv_reduce", block.se, block.mid, 1, bias=True),
            _conv(f"{p}.conv_expand", block.mid, block.se, 1, bias=True)]


def efficientnet_layout(num_classes: int = 1000, width_multiplier: float = 1.0,
                        depth_multiplier: float = 1.0, channels: int = 3,
                        channel_divisor: int = 8) -> list[Module]:
    """timm's EfficientNet modules for the multipliers, in forward order.

    Example:
        >>> layout = efficientnet_layout(1000, 1.1, 1.2)
        >>> len(keys(layout)), keys(layout)["blocks.0.1.se.conv_reduce.weight"]
        (439, (4, 16, 1, 1))
    """
    stem, blocks, head = efficientnet.architecture(width_multiplier, depth_multiplier,
                                                   channel_divisor)
    modules = [_conv("conv_stem", stem, channels, 3), _bn("bn1", stem)]
    for b in blocks:
        n = b.name
        if b.kind == "ds":
            modules += [_depthwise(f"{n}.conv_dw", b.mid, b.kernel), _bn(f"{n}.bn1", b.mid),
                        *_se(b), _conv(f"{n}.conv_pw", b.out, b.mid, 1), _bn(f"{n}.bn2", b.out)]
        else:
            modules += [_conv(f"{n}.conv_pw", b.mid, b.inp, 1), _bn(f"{n}.bn1", b.mid),
                        _depthwise(f"{n}.conv_dw", b.mid, b.kernel), _bn(f"{n}.bn2", b.mid),
                        *_se(b), _conv(f"{n}.conv_pwl", b.out, b.mid, 1),
                        _bn(f"{n}.bn3", b.out)]
    return modules + [_conv("conv_head", head, blocks[-1].out, 1), _bn("bn2", head),
                      _dense("classifier", num_classes, head, "logits")]


def convnext_layout(num_classes: int = 1000, width_multiplier: float = 1.0,
                    depths: str = "3-3-9-3", channels: int = 3) -> list[Module]:
    """timm's ConvNeXt modules for the hparams, in forward order.

    Example:
        >>> layout = convnext_layout()
        >>> len(keys(layout)), keys(layout)["stages.2.blocks.8.mlp.fc1.weight"]
        (182, (1536, 384))
    """
    dims = convnext.dims(width_multiplier)
    modules = [_conv("stem.0", dims[0], channels, 4, bias=True), _ln("stem.1", dims[0])]
    for s, count in enumerate(convnext.stage_depths(depths)):
        if s:
            p = f"stages.{s}.downsample"
            modules += [_ln(f"{p}.0", dims[s - 1]), _conv(f"{p}.1", dims[s], dims[s - 1], 2,
                                                          bias=True)]
        for i in range(count):
            p, d = f"stages.{s}.blocks.{i}", dims[s]
            modules += [Module("scale", p, f"{p}.gamma", {"gamma": (d,)}),
                        _depthwise(f"{p}.conv_dw", d, 7, bias=True), _ln(f"{p}.norm", d),
                        _dense(f"{p}.mlp.fc1", 4 * d, d), _dense(f"{p}.mlp.fc2", d, 4 * d)]
    return modules + [_ln("head.norm", dims[-1]),
                      _dense("head.fc", num_classes, dims[-1], "logits")]


def layout(model: str, **args: Any) -> list[Module]:
    """The timm modules of ``model`` with the ``layout`` arguments ``infer`` finds.

    Example:
        >>> len(layout("efficientnet_b4", width_multiplier=1.4, depth_multiplier=1.8))
        257
    """
    if model == "convnext_tiny":
        return convnext_layout(**args)
    return efficientnet_layout(**args)


def keys(modules: list[Module]) -> dict[str, tuple[int, ...]]:
    """Key → shape of timm's state dict of ``modules`` (without ``num_batches_tracked``).

    Example:
        >>> keys(convnext_layout())["stem.0.weight"]
        (96, 3, 4, 4)
    """
    return {f"{m.prefix}.{k}": s for m in modules for k, s in m.shapes.items()}


# Facebook's ConvNeXt names → timm's, as timm's convnext.checkpoint_filter_fn renames them.
_FACEBOOK = ((r"^downsample_layers\.0\.", "stem."),
             (r"^stages\.(\d+)\.(\d+)\.", r"stages.\1.blocks.\2."),
             (r"^downsample_layers\.(\d+)\.(\d+)\.", r"stages.\1.downsample.\2."),
             (r"\.dwconv\.", ".conv_dw."), (r"\.pwconv(\d)\.", r".mlp.fc\1."),
             (r"^head\.", "head.fc."), (r"^norm\.", "head.norm."))


def from_facebook(state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A ConvNeXt state dict in Facebook's original names (``facebookresearch/ConvNeXt``,
    the file timm 0.6.11 downloads) under timm's names; a timm state dict unchanged.

    Example:
        >>> names = from_facebook({"downsample_layers.1.0.weight": 0, "norm.weight": 0,
        ...                        "stages.0.2.pwconv1.bias": 0, "head.bias": 0})
        >>> list(names)[:2], list(names)[2:]
        (['stages.1.downsample.0.weight', 'head.norm.weight'], \
['stages.0.blocks.2.mlp.fc1.bias', 'head.fc.bias'])
    """
    if not any(k.startswith("downsample_layers.") for k in state):
        return state
    out = {}
    for key, value in state.items():
        for pattern, new in _FACEBOOK:
            key = re.sub(pattern, new, key)
        out[key] = value
    return out


def read(path: str | Path) -> dict[str, np.ndarray]:
    """The state dict of a timm checkpoint file, as ``bnno import`` reads it: the reader
    of its content (``bnno.checkpoints.files``: a ``.safetensors`` file without pickle, or
    a PyTorch file), then the tensors of the file, of its ``state_dict`` entry or of
    Facebook's ``model`` entry (``bnno.checkpoints.registry.state_dict``); ``module.``
    prefixes removed.

    Raises:
        BnnoError: unreadable, unsafe or not a state dict of arrays.

    Example:
        Either form of timm's EfficientNet-B0 weights::

            state = read("efficientnet_b0_ra-3dd342df.pth")
            state = read("model.safetensors")  # Hugging Face hub: timm/efficientnet_b0.ra_in1k
    """
    return state_dict(load_checkpoint(path))


def _shortest(fits: Callable[[float], bool], *preferred: float) -> float | None:
    """The first of ``preferred`` that fits, else the multiplier with the fewest decimals
    (up to 3, below 4) that does; None if none does."""
    for value in preferred:
        if fits(value):
            return value
    for digits in (1, 2, 3):
        for k in range(1, 4 * 10**digits):
            if fits(round(k / 10**digits, digits)):
                return round(k / 10**digits, digits)
    return None


def _counts(state: dict[str, np.ndarray], pattern: str, stages: int) -> list[int]:
    """Blocks per stage, from the keys matching ``pattern`` (stage and block groups)."""
    found: dict[int, set] = {}
    for key in state:
        match = re.match(pattern, key)
        if match:
            found.setdefault(int(match[1]), set()).add(int(match[2]))
    return [len(found.get(s, ())) for s in range(stages)]


def _rows(state: dict[str, np.ndarray], key: str) -> int | None:
    value = state.get(key)
    return int(value.shape[0]) if value is not None and value.ndim >= 1 else None


def _efficientnet_widths(m: float, divisor: int) -> list[int]:
    return [efficientnet.round_channels(c, m, divisor) for c in
            (32, *(s[-1] for s in efficientnet.STAGES), 1280)]


def _infer_efficientnet(state: dict[str, np.ndarray], model: str) -> dict[str, Any]:
    # The model's own multipliers first, then the other variants' (their weights are
    # then refused under this name), then the shortest decimals.
    widths, depths = zip(efficientnet.VARIANTS[model], *efficientnet.VARIANTS.values(),
                         strict=True)
    width, depth = widths[0], depths[0]
    counts = _counts(state, r"blocks\.(\d+)\.(\d+)\.", len(efficientnet.STAGES))
    depth = _shortest(lambda d: efficientnet.repeats(d) == counts, *depths) or depth
    last = [f"blocks.{s}.{n - 1}.{'conv_pw' if s == 0 else 'conv_pwl'}.weight"
            for s, n in enumerate(counts)]
    seen = [_rows(state, k) for k in ("conv_stem.weight", *last, "conv_head.weight")]
    for divisor in (8, 4, 2, 1):  # timm's default first
        found = _shortest(lambda m, d=divisor: _efficientnet_widths(m, d) == seen, *widths)
        if found is not None:
            return {"width_multiplier": found, "depth_multiplier": depth,
                    "channel_divisor": divisor}
    return {"width_multiplier": width, "depth_multiplier": depth, "channel_divisor": 8}


def _infer_convnext(state: dict[str, np.ndarray]) -> dict[str, Any]:
    counts = _counts(state, r"stages\.(\d+)\.blocks\.(\d+)\.", 4)
    depths = "-".join(map(str, counts)) if all(counts) else "3-3-9-3"
    seen = [_rows(state, "stem.0.weight"),
            *(_rows(state, f"stages.{s}.downsample.1.weight") for s in (1, 2, 3))]
    width = _shortest(lambda m: convnext.dims(m) == seen, 1.0) or 1.0
    return {"width_multiplier": width, "depths": depths}


STEM = {"convnext_tiny": "stem.0.weight", **{m: "conv_stem.weight" for m in EFFICIENTNETS}}
CLASSIFIER = {"convnext_tiny": "head.fc.weight",
              **{m: "classifier.weight" for m in EFFICIENTNETS}}


def infer(state: dict[str, np.ndarray], model: str) -> dict[str, Any] | None:
    """The ``layout`` arguments a timm state dict implies for ``model`` (None if it lacks
    the stem or classifier that tell the class and channel counts). Multipliers are the
    model's own when they fit the widths and depths, else the shortest decimals that do.

    Example:
        >>> state = {k: np.zeros(s) for k, s in keys(efficientnet_layout(10, 0.25, 1.2)).items()}
        >>> infer(state, "efficientnet_b2")  # doctest: +NORMALIZE_WHITESPACE
        {'num_classes': 10, 'channels': 3, 'width_multiplier': 0.25, 'depth_multiplier': 1.2,
         'channel_divisor': 8}
    """
    stem, fc = state.get(STEM[model]), state.get(CLASSIFIER[model])
    if stem is None or fc is None or stem.ndim != 4 or fc.ndim != 2:
        return None
    found = {"num_classes": int(fc.shape[0]), "channels": int(stem.shape[1])}
    if model == "convnext_tiny":
        return {**found, **_infer_convnext(state)}
    return {**found, **_infer_efficientnet(state, model)}


def _optional(module: Module) -> set[str]:
    return {f"{module.prefix}.num_batches_tracked"} if module.kind == "bn" else set()


def _problem(state: dict[str, np.ndarray], model: str) -> tuple[str | None, float]:
    """The first problem of ``state`` as ``model`` (None: none) and how well it fits (the
    share of keys with matching shapes)."""
    args = infer(state, model)
    if args is None:
        missing = STEM[model] if STEM[model] not in state else CLASSIFIER[model]
        return f"key '{missing}' is missing", 0.0
    modules = layout(model, **args)
    expected = keys(modules)
    optional = set().union(*map(_optional, modules))
    same = sum(1 for k, s in expected.items() if k in state and state[k].shape == s)
    fit = same / len((set(expected) | set(state)) - optional)
    for key, shape in expected.items():
        if key not in state:
            return f"key '{key}' is missing", fit
        if state[key].shape != shape:
            return (f"key '{key}' has shape {tuple(state[key].shape)}, {model} needs "
                    f"{shape}"), fit
    for key in state:
        if key in optional and state[key].size == 1:
            continue
        if key not in expected:
            return f"key '{key}' is unexpected", fit
    return None, fit


def _as(state: dict[str, np.ndarray], model: str) -> dict[str, np.ndarray]:
    return from_facebook(state) if model == "convnext_tiny" else state


def check(state: dict[str, np.ndarray], model: str) -> dict[str, Any]:
    """The ``layout`` arguments of ``state`` as ``model``, after checking every key and
    shape.

    Raises:
        BnnoError: the first missing, unexpected or mis-shaped key, and the model of
            ``MODELS`` the state dict fits best; or the multipliers of another of timm's
            EfficientNets (import it under that name).

    Example:
        >>> narrow = convnext_layout(10, 1 / 12, "1-1-3-1")
        >>> state = {k: np.zeros(s) for k, s in keys(narrow).items()}
        >>> check(state, "convnext_tiny")["depths"]
        '1-1-3-1'
        >>> check(state, "efficientnet_b0")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        bnno.errors.BnnoError: the checkpoint does not fit efficientnet_b0: ...; it fits conv...
    """
    problem, _ = _problem(_as(state, model), model)
    if problem is None:
        args = infer(_as(state, model), model)
        _check_variant(args, model)
        return args
    raise misfit(model, problem, {name: _problem(_as(state, name), name) for name in MODELS},
                 prefer=model)


def _check_variant(args: dict[str, Any], model: str) -> None:
    # timm's B0, B2 and B4 differ in their multipliers only: B2's weights would fit the B0
    # builder with B2's multipliers; they are imported under their own name instead.
    if model not in EFFICIENTNETS:
        return
    found = (args["width_multiplier"], args["depth_multiplier"])
    for other, multipliers in efficientnet.VARIANTS.items():
        if other != model and found == multipliers and args["channel_divisor"] == 8:
            raise BnnoError(f"the checkpoint is timm's {other} (width {found[0]}, depth "
                            f"{found[1]}); import it as {other}")


def _values(layer, module: Module, get: Callable[[str], np.ndarray]) -> list[tuple]:
    """(Keras variable, value, key) pairs of one module."""
    kind = module.kind
    if kind in ("bn", "ln"):
        expected = EPSILONS[type(layer).__name__] if type(layer).__name__ in EPSILONS else None
        if expected is None or abs(layer.epsilon - expected) > 1e-12:
            raise BnnoError(f"layer {layer.name} is no timm norm (ε {expected}); the model "
                            "was not built by bnno's builder of this name")
        pairs = [(layer.gamma, "weight"), (layer.beta, "bias")]
        if kind == "bn":
            pairs += [(layer.moving_mean, "running_mean"), (layer.moving_variance, "running_var")]
        return [(v, get(k), k) for v, k in pairs]
    if kind == "scale":
        return [(layer.gamma, get("gamma"), "gamma")]
    weight = get("weight")
    if kind == "conv":
        out = [(layer.kernel, weight.transpose(2, 3, 1, 0), "weight")]
    elif kind == "depthwise":
        out = [(layer.depthwise_kernel, weight.transpose(2, 3, 0, 1), "weight")]
    else:
        out = [(layer.kernel, weight.T, "weight")]
    if "bias" in module.shapes:
        out.append((layer.bias, get("bias"), "bias"))
    elif getattr(layer, "bias", None) is not None:
        raise BnnoError(f"layer {layer.name} has a bias that timm's '{module.prefix}' lacks")
    return out


def fill(net, modules: list[Module], state: dict[str, np.ndarray],
         check_only: bool = False) -> None:
    """Write ``state`` into the built bnno model ``net`` whose timm layout is ``modules``:
    each module into the Keras layer of its name. With ``check_only`` only check that
    every value fits its variable.

    Raises:
        BnnoError: the model's weighted layers are not the layout's (it was built with
            other hparams), or a value's shape differs from its variable's.

    Example:
        Fill a narrow ConvNeXt built with the hparams ``check`` found::

            args = check(state, "convnext_tiny")
            fill(net, layout("convnext_tiny", **args), state)
    """
    weighted = {layer.name for layer in net.layers if layer.weights}
    named = {m.layer for m in modules}
    if weighted != named:
        extra = sorted(weighted - named) or sorted(named - weighted)
        raise BnnoError(f"{net.name} does not have timm's layers (first difference: "
                        f"{extra[0]}); build it with the hparams the import found")
    for module in modules:
        layer = net.get_layer(module.layer)

        def get(name: str, prefix: str = module.prefix) -> np.ndarray:
            return state[f"{prefix}.{name}"]

        for variable, value, key in _values(layer, module, get):
            if tuple(variable.shape) != value.shape:
                raise BnnoError(f"key '{module.prefix}.{key}' maps to {variable.name} of "
                                f"shape {tuple(variable.shape)}, not {value.shape}")
            if not check_only:
                variable.assign(np.asarray(value, dtype=np.float32))


DEFAULTS = {"convnext_tiny": {"width_multiplier": 1.0, "depths": "3-3-9-3"},
            **{m: {"width_multiplier": w, "depth_multiplier": d, "channel_divisor": 8}
               for m, (w, d) in efficientnet.VARIANTS.items()}}


@register(*MODELS)
def timm_weights(state: dict[str, np.ndarray], model: str) -> Mapping:
    """The import of a timm state dict as ``model``: checked now, written by
    ``Mapping.assign`` into a model built with ``Mapping.hparams``.

    Raises:
        BnnoError: see ``check``; or a stem for other than 3 channels.

    Example:
        >>> state = {k: np.ones(s) for k, s in keys(efficientnet_layout(10, 0.25, 1.0)).items()}
        >>> mapping = timm_weights(state, "efficientnet_b0")
        >>> mapping.hparams, mapping.num_classes, mapping.info
        ({'width_multiplier': 0.25}, 10, {'key_names': 'timm'})
    """
    facebook = model == "convnext_tiny" and from_facebook(state) is not state
    state = _as(state, model)
    args = check(state, model)
    if args["channels"] != 3:
        raise BnnoError(f"the checkpoint's stem takes {args['channels']} channels; bnno "
                        "imports timm's models for RGB images (3 channels)")
    hparams = {k: args[k] for k, v in DEFAULTS[model].items() if args[k] != v}
    modules = layout(model, **args)

    def assign(net) -> None:
        fill(net, modules, state)

    return Mapping(hparams, args["num_classes"], assign,
                   {"key_names": "facebook" if facebook else "timm"})


class Pretrained(NamedTuple):
    """Where timm's ImageNet weights of a model come from: the file timm 0.6.11 downloads
    for ``pretrained=True`` (``url``, saved under its last part in torch hub's
    ``checkpoints`` folder) and the Hugging Face hub repository that publishes the same
    weights as ``model.safetensors`` for newer timm."""

    url: str
    hub: str

    @property
    def file(self) -> str:
        """The file's name, the last part of ``url``."""
        return self.url.rsplit("/", 1)[1]


_RELEASES = "https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/"
# timm 0.6.11's default_cfgs (timm/models/efficientnet.py, convnext.py). In newer timm a
# bare "convnext_tiny" is another checkpoint (in12k_ft_in1k): the hub name says fb_in1k.
PRETRAINED = {
    "efficientnet_b0": Pretrained(_RELEASES + "efficientnet_b0_ra-3dd342df.pth",
                                  "timm/efficientnet_b0.ra_in1k"),
    "efficientnet_b2": Pretrained(_RELEASES + "efficientnet_b2_ra-bcdf34b7.pth",
                                  "timm/efficientnet_b2.ra_in1k"),
    "efficientnet_b4": Pretrained(_RELEASES + "efficientnet_b4_ra2_320-7eb33cd5.pth",
                                  "timm/efficientnet_b4.ra2_in1k"),
    "convnext_tiny": Pretrained("https://dl.fbaipublicfiles.com/convnext/"
                                "convnext_tiny_1k_224_ema.pth", "timm/convnext_tiny.fb_in1k"),
}


def pretrained_file(model: str) -> Path:
    """The file of timm's ImageNet weights of ``model`` that timm 0.6.11 would have
    downloaded (``PRETRAINED``), in torch hub's folder.

    Raises:
        BnnoError: it is not there; the message gives the URL to download and the other
            ways to give the weights.

    Example:
        The file ``teacher_weights=timm`` imports for EfficientNet-B0 (by default
        ``~/.cache/torch/hub/checkpoints/efficientnet_b0_ra-3dd342df.pth``)::

            path = pretrained_file("efficientnet_b0")
    """
    found = PRETRAINED[model]
    path = torch_hub_checkpoints() / found.file
    if not path.is_file():
        raise BnnoError(f"timm's {model} weights {found.file} are not in {path.parent}; "
                        f"download {found.url} there (timm 0.6.11's pretrained file), or give "
                        f"teacher_weights the path of that file or of model.safetensors of "
                        f"{found.hub}, a run of bnno import, or none")
    return path


for _model in PRETRAINED:
    register_source("timm", _model, lambda m=_model: pretrained_file(m))
