"""EfficientNet-B0, -B2 and -B4 as timm 0.6.11 builds ``efficientnet_b0/b2/b4`` (the
PyTorch variants BNext's official trainer distils from; not timm's ``tf_efficientnet_*``
nor Keras Applications' EfficientNets).

timm's ``_gen_efficientnet`` (``timm/models/efficientnet.py``): a 3×3 stride-2 stem, seven
stages of mobile inverted-bottleneck blocks (the first a depthwise-separable block
without expansion), a 1×1 head convolution to ``round(1280 × width)`` channels, global
average pooling and a dense classifier. Every block has squeeze-and-excitation with
``round(in × 0.25)`` reduced channels; only the first block of a stage strides. Widths are
timm's ``round_channels`` of the stage widths (multiples of 8, at most 10 % below), depths
``ceil(repeats × depth_multiplier)`` per stage. As timm's: batch norm with PyTorch's
ε = 1e-5 (not TensorFlow's 1e-3), SiLU, symmetric PyTorch padding (``(k − 1) // 2`` on
every side, also at stride 2, where TensorFlow's ``same`` pads unevenly), bias-free
convolutions except in squeeze-and-excitation, timm's initialisation (convolutions
N(0, 2 / fan-out), the classifier U(±1/√classes), biases 0).

Inputs are images normalised with ImageNet's channel mean and deviation (timm's default
cfg; BNext feeds its teachers the student's normalised batch). The logits layer is
``logits``, followed by a softmax. Layers are named after timm's modules
(``blocks.3.1.conv_dw``), which the importer of timm's checkpoints relies on.

Training-only parts as timm's: dropout of rate ``drop_rate`` before the classifier, and drop
path (stochastic depth) on the residual branch of block ``i`` of ``n`` at rate
``drop_path_rate × i / n``; both default to 0, as timm's constructor and BNext's teachers.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import tensorflow as tf

from bnno.errors import BnnoError
from bnno.models.registry import register
from bnno.models.timm_layers import DropPath, conv, make_divisible

# timm's arch_def of _gen_efficientnet: (kind, repeats, kernel, stride, expansion, width).
STAGES = (("ds", 1, 3, 1, 1, 16), ("ir", 2, 3, 2, 6, 24), ("ir", 2, 5, 2, 6, 40),
          ("ir", 3, 3, 2, 6, 80), ("ir", 3, 5, 1, 6, 112), ("ir", 4, 5, 2, 6, 192),
          ("ir", 1, 3, 1, 6, 320))
SE_RATIO = 0.25
# (width, depth) multipliers of timm's efficientnet_b0/b2/b4.
VARIANTS = {"efficientnet_b0": (1.0, 1.0), "efficientnet_b2": (1.1, 1.2),
            "efficientnet_b4": (1.4, 1.8)}
BN_EPSILON = 1e-5  # nn.BatchNorm2d's default, which timm's non-tf_ EfficientNets keep


class Block(NamedTuple):
    """One block as timm builds it: ``name`` its module path (``blocks.<stage>.<i>``)."""

    name: str
    kind: str  # "ds" (depthwise separable, stage 0) or "ir" (inverted residual)
    inp: int
    out: int
    mid: int  # the expanded width (``inp`` for "ds")
    kernel: int
    stride: int
    se: int  # squeeze-and-excitation's reduced width
    skip: bool


def round_channels(channels: int, width_multiplier: float, divisor: int = 8) -> int:
    """timm's ``round_channels``.

    Example:
        >>> [round_channels(c, 1.1) for c in (32, 40, 80, 1280)]
        [32, 48, 88, 1408]
    """
    return make_divisible(channels * width_multiplier, divisor)


def repeats(depth_multiplier: float) -> list[int]:
    """Blocks per stage: ``ceil(repeats × depth_multiplier)``, at least 1 (timm's
    ``decode_arch_def``, ``depth_trunc='ceil'``).

    Example:
        >>> repeats(1.8)
        [2, 4, 4, 6, 6, 8, 2]
    """
    return [max(1, int(math.ceil(r * depth_multiplier))) for _, r, *_ in STAGES]


def architecture(width_multiplier: float, depth_multiplier: float,
                 channel_divisor: int = 8) -> tuple[int, list[Block], int]:
    """The stem width, every block and the head width for the multipliers and timm's
    ``channel_divisor`` (of the stage widths; expanded widths stay multiples of 8, as
    timm's ``make_divisible`` default).

    Example:
        >>> stem, blocks, head = architecture(1.0, 1.0)
        >>> stem, len(blocks), head
        (32, 16, 1280)
        >>> blocks[1].name, blocks[1].mid, blocks[1].se, blocks[1].stride, blocks[1].skip
        ('blocks.1.0', 96, 4, 2, False)
    """
    stem = round_channels(32, width_multiplier, channel_divisor)
    blocks, inp = [], stem
    for stage, ((kind, _, kernel, stride, expansion, width), count) in enumerate(
            zip(STAGES, repeats(depth_multiplier), strict=True)):
        out = round_channels(width, width_multiplier, channel_divisor)
        for i in range(count):
            s = stride if i == 0 else 1
            mid = make_divisible(inp * expansion) if kind == "ir" else inp
            # timm: SqueezeExcite(mid, rd_ratio=se_ratio / exp_ratio), rd = round(mid · ratio).
            se = round(mid * (SE_RATIO / float(expansion)))
            blocks.append(Block(f"blocks.{stage}.{i}", kind, inp, out, mid, kernel, s, se,
                                s == 1 and inp == out))
            inp = out
    return stem, blocks, round_channels(1280, width_multiplier, channel_divisor)


def _conv_init():
    # timm's _init_weight_goog: N(0, sqrt(2 / fan_out)), fan_out = k·k·out / groups
    # (Keras' fan-out of a depthwise kernel (k, k, C, 1) is k·k, the same).
    return tf.keras.initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal")


def _bn(x, name: str, act: bool = True):
    x = tf.keras.layers.BatchNormalization(momentum=0.9, epsilon=BN_EPSILON, name=name)(x)
    return tf.keras.layers.Activation("swish", name=f"{name}.act")(x) if act else x


def _squeeze_excite(x, block: Block):
    name = f"{block.name}.se"
    s = tf.keras.layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}.pool")(x)
    s = tf.keras.layers.Conv2D(block.se, 1, activation="swish", name=f"{name}.conv_reduce",
                               kernel_initializer=_conv_init())(s)
    s = tf.keras.layers.Conv2D(block.mid, 1, activation="sigmoid",
                               name=f"{name}.conv_expand", kernel_initializer=_conv_init())(s)
    return tf.keras.layers.Multiply(name=f"{name}.gate")([x, s])


def _block(x, block: Block, drop_path: float):
    n = block.name
    shortcut = x
    if block.kind == "ir":
        x = _bn(conv(x, block.mid, 1, name=f"{n}.conv_pw", initializer=_conv_init()), f"{n}.bn1")
        x = conv(x, block.mid, block.kernel, block.stride, name=f"{n}.conv_dw", depthwise=True,
                 initializer=_conv_init())
        x = _squeeze_excite(_bn(x, f"{n}.bn2"), block)
        x = _bn(conv(x, block.out, 1, name=f"{n}.conv_pwl", initializer=_conv_init()),
                f"{n}.bn3", act=False)
    else:
        x = conv(x, block.mid, block.kernel, block.stride, name=f"{n}.conv_dw", depthwise=True,
                 initializer=_conv_init())
        x = _squeeze_excite(_bn(x, f"{n}.bn1"), block)
        x = _bn(conv(x, block.out, 1, name=f"{n}.conv_pw", initializer=_conv_init()),
                f"{n}.bn2", act=False)
    if not block.skip:
        return x
    if drop_path:
        x = DropPath(drop_path, name=f"{n}.drop_path")(x)
    return tf.keras.layers.Add(name=f"{n}.add")([x, shortcut])


def efficientnet(input_shape: tuple[int, ...], num_classes: int, *, width_multiplier: float,
                 depth_multiplier: float, channel_divisor: int = 8, drop_rate: float = 0.0,
                 drop_path_rate: float = 0.0, name: str = "efficientnet") -> tf.keras.Model:
    """timm's EfficientNet with the given multipliers; the registered builders call this.

    Example:
        >>> net = efficientnet((32, 32, 3), 10, width_multiplier=0.25, depth_multiplier=0.5)
        >>> net.output_shape, net.layers[-2].name
        ((None, 10), 'logits')
    """
    if channel_divisor < 1:
        raise BnnoError(f"channel_divisor must be a positive integer, got {channel_divisor}")
    stem, blocks, head = architecture(width_multiplier, depth_multiplier, channel_divisor)
    image = tf.keras.Input(input_shape)
    x = _bn(conv(image, stem, 3, 2, name="conv_stem", initializer=_conv_init()), "bn1")
    for i, block in enumerate(blocks):
        x = _block(x, block, drop_path_rate * i / len(blocks))
    x = _bn(conv(x, head, 1, name="conv_head", initializer=_conv_init()), "bn2")
    x = tf.keras.layers.GlobalAveragePooling2D(name="global_pool")(x)
    if drop_rate:
        x = tf.keras.layers.Dropout(drop_rate, name="drop")(x)
    # timm's Linear init: U(±1/sqrt(fan_out)) = VarianceScaling(1/3, fan_out, uniform).
    x = tf.keras.layers.Dense(
        num_classes, name="logits",
        kernel_initializer=tf.keras.initializers.VarianceScaling(1 / 3, "fan_out", "uniform"))(x)
    return tf.keras.Model(image, tf.keras.layers.Activation("softmax", name="softmax")(x),
                          name=name)


def _register(name: str, description: str):
    width, depth = VARIANTS[name]

    def builder(input_shape: tuple[int, ...], num_classes: int, *,
                width_multiplier: float = width, depth_multiplier: float = depth,
                channel_divisor: int = 8, drop_rate: float = 0.0,
                drop_path_rate: float = 0.0) -> tf.keras.Model:
        return efficientnet(input_shape, num_classes, width_multiplier=width_multiplier,
                            depth_multiplier=depth_multiplier, channel_divisor=channel_divisor,
                            drop_rate=drop_rate, drop_path_rate=drop_path_rate, name=name)

    builder.__name__ = builder.__qualname__ = name
    builder.__doc__ = f"""{description}

    Example:
        timm's model for ImageNet, and a narrow, shallow one for CIFAR-sized images::

            model = {name}((224, 224, 3), 1000)
            narrow = {name}((32, 32, 3), 10, width_multiplier=0.25, depth_multiplier=0.5)

    Args:
        input_shape: image shape (height, width, channels), any size.
        num_classes: size of the softmax output.
        width_multiplier: timm's ``channel_multiplier`` ({width} for this model); widths
            are rounded to multiples of 8 as timm rounds them.
        depth_multiplier: timm's ``depth_multiplier`` ({depth}): blocks per stage are
            ``ceil(repeats × depth_multiplier)``.
        channel_divisor: timm's ``channel_divisor`` (8): stage widths are multiples of it
            (4 gives the very narrow models that test imports).
        drop_rate: dropout before the classifier while training (timm's ``drop_rate``).
        drop_path_rate: timm's ``drop_path_rate`` (stochastic depth, training only).

    Returns:
        An uncompiled Keras model ending in a softmax.
    """
    return register(builder)


efficientnet_b0 = _register(
    "efficientnet_b0", "timm's EfficientNet-B0 (width 1.0, depth 1.0): 16 blocks, 5.29 M "
    "parameters.")
efficientnet_b2 = _register(
    "efficientnet_b2", "timm's EfficientNet-B2 (width 1.1, depth 1.2): 23 blocks, 9.11 M "
    "parameters.")
efficientnet_b4 = _register(
    "efficientnet_b4", "timm's EfficientNet-B4 (width 1.4, depth 1.8): 32 blocks, 19.34 M "
    "parameters.")
