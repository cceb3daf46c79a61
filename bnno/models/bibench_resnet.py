"""BiBench's CIFAR ResNets (Qin et al., ICML 2023; official code htqin/BiBench,
``bibench/models/backbones/resnet.py`` and ``resnet_cifar.py``, ``BiBench_ResNet_CIFAR``;
``configs/_base_/models/resnet{18,20,34}.py``), with any binarizer.

The network (``ResNet_CIFAR``, ``BasicBlock``):

* stem: a full-precision 3×3 convolution at stride 1 to ``stem_filters`` (the official
  ``stem_channels``, 64 whatever the width), batch norm, the nonlinearity; no max pool;
* stages of basic blocks (depth 18: 2, 2, 2, 2; 20: 3, 3, 3; 34: 3, 4, 6, 3), ``filters``
  wide in the first stage, doubling in each later one, the first block of every stage but
  the first at stride 2. A block: binary 3×3 convolution → batch norm → nonlinearity →
  binary 3×3 convolution → batch norm, plus the shortcut, then the nonlinearity. Where a
  block changes width or stride (the first block of every stage, also the first stage's
  when the stem is wider), the shortcut is a full-precision 1×1 convolution at the
  block's stride and batch norm (``downsample_conv_cfg=None``);
* global average pool, a full-precision dense layer (mmcls' ``LinearClsHead``), softmax.

Both sides of every binary convolution use the binarizers given (``activation``,
``kernel_quantizer``); the convolutions have no bias. With both left out the network is
full precision: BiBench's ``fp32`` configs.

The official choices that depend on the binarizer are the defaults ``"auto"``:

* ``nonlinearity``: Hardtanh (clip to [−1, 1]) in the binary configs
  (``first_act_cfg``/``act_cfg``), ReLU (mmcls' default) in the full-precision ones;
* ``binary_init``: the official weight initialisation (``init_weights``, mmcv's
  ``Kaiming`` on modules that are ``nn.Conv2d``): the hand-made binary convolutions of
  BNN, XNOR, DoReFa, Bi-Real, XNOR++ and ReAct keep their own ``torch.rand(shape) · 0.001``
  (uniform in [0, 0.001): every latent weight positive), ReCU's and FDA's (``nn.Conv2d``
  subclasses) and full-precision convolutions get Kaiming's normal with fan-out
  (std = √(2 / (out channels · kernel area))).

Batch norm starts at γ = 1, β = 0 (mmcv's ``Constant``), except the second batch norm of
every block, which starts at γ = β = 0 (``zero_init_residual``, the official default for a
network trained from its initialisation); it has PyTorch's momentum and ε. The
classifier's weights are N(0, 0.01²) and its bias 0 (``LinearClsHead``).

Deviations: stride-2 convolutions on even sizes pad as PyTorch does through
``MirroredQuantConv2D`` (``bnno.layers.mirrored``), which learns the mirrored kernel;
sign(0) = +1 (larq's) in every binarizer; Hardtanh's gradient passes at exactly ±1.
XNOR++'s per-position output factors need ``bnno.models.bibench_layers``' layer, which a
binarizer given as quantizers does not bring: here XNOR++ is its per-channel factor
(``bibench_xnorpp_weight``). The official ``acc_cifar10`` configs start the binary
networks from a trained full-precision checkpoint (``init_cfg=Pretrained``); this
builder starts from the initialisation above, as the ``eff_train`` configs do (``bnno
train --init`` starts from another run's weights).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Literal

import larq as lq
import tensorflow as tf

from bnno import quantizers
from bnno.errors import BnnoError
from bnno.layers.common import torch_bn
from bnno.layers.mirrored import MirroredQuantConv2D
from bnno.layers.padding import same_mode
from bnno.models.registry import register
from bnno.quantizers import QuantizerSpec

# Blocks per stage (``ResNet.arch_settings``, basic blocks only).
STAGES = {18: (2, 2, 2, 2), 20: (3, 3, 3), 34: (3, 4, 6, 3)}
# Kernel quantizers of the official binary convolutions that are ``nn.Conv2d``
# subclasses (mmcv's Kaiming reaches them); the other BiBench ones keep torch.rand · 0.001.
KAIMING_BINARY = ("bibench_recu_weight", "bibench_fda_weight")


def kaiming_fan_out() -> tf.keras.initializers.Initializer:
    """mmcv's ``kaiming_init`` default: normal, fan-out, ReLU gain, std = √(2 / fan_out).

    Example:
        >>> w = kaiming_fan_out()((3, 3, 16, 64))  # fan-out 3·3·64
        >>> abs(float(tf.math.reduce_std(w)) - (2 / 576) ** 0.5) < 0.004
        True
    """
    return tf.keras.initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal")


def bibench_uniform() -> tf.keras.initializers.Initializer:
    """The hand-made BiBench convolutions' ``torch.rand(shape) · 0.001``: U[0, 0.001).

    Example:
        >>> w = bibench_uniform()((3, 3, 4, 8))
        >>> bool(tf.reduce_min(w) >= 0) and bool(tf.reduce_max(w) < 0.001)
        True
    """
    return tf.keras.initializers.RandomUniform(0.0, 0.001)


@lq.utils.register_keras_custom_object
class HardTanh(tf.keras.layers.Layer):
    """PyTorch's ``nn.Hardtanh``: x clipped to [−1, 1].

    Example:
        >>> HardTanh()(tf.constant([-2.0, 0.5, 3.0])).numpy().tolist()
        [-1.0, 0.5, 1.0]
    """

    def call(self, inputs):
        return tf.clip_by_value(inputs, -1.0, 1.0)


@contextlib.contextmanager
def _no_constraint_warning():
    # BiBench trains its latent weights without a constraint (their gradient stops outside
    # [−1, 1], as the official clamp's does); larq warns about that once per layer.
    logger = logging.getLogger("larq.layers_base")

    def keep(record: logging.LogRecord) -> bool:
        return "starved weights" not in record.getMessage()

    logger.addFilter(keep)
    try:
        yield
    finally:
        logger.removeFilter(keep)


def _initializer(choice: str, kernel_quantizer: QuantizerSpec):
    if choice == "auto":
        # A Keras config (the trainer's ±1 kernels for a latent-free optimizer) names no
        # BiBench binarizer.
        name = kernel_quantizer if isinstance(kernel_quantizer, str) else (
            kernel_quantizer or {}).get("name")
        hand_made = isinstance(name, str) and name.startswith("bibench_") \
            and name not in KAIMING_BINARY
        choice = "uniform" if hand_made else "kaiming"
    return bibench_uniform() if choice == "uniform" else kaiming_fan_out()


@register
def bibench_resnet(
    input_shape: tuple[int, ...],
    num_classes: int,
    *,
    depth: int = 20,
    filters: int = 16,
    stem_filters: int = 64,
    kernel_quantizer: QuantizerSpec = "bibench_bnn_weight",
    kernel_constraint: str | None = None,
    activation: QuantizerSpec = "bibench_bnn_activation",
    nonlinearity: Literal["auto", "hardtanh", "relu"] = "auto",
    binary_init: Literal["auto", "kaiming", "uniform"] = "auto",
    zero_init_residual: bool = True,
) -> tf.keras.Model:
    """BiBench's CIFAR ResNet (see the module docstring).

    Example:
        >>> model = bibench_resnet((32, 32, 3), 10)  # ResNet-20, BiBench's BNN
        >>> model.count_params()
        283530
        >>> fp = bibench_resnet((32, 32, 3), 10, depth=18, filters=8, activation=None,
        ...                     kernel_quantizer=None)
        >>> fp.output_shape
        (None, 10)

    Args:
        input_shape: image shape (height, width, channels).
        num_classes: size of the softmax output.
        depth: 18, 20 or 34 (the official configs: 18 and 34 with ``filters=64``, four
            stages; 20 with ``filters=16``, three).
        filters: width of the first stage (``base_channels``); doubled at each later one.
        stem_filters: width of the stem (``stem_channels``).
        kernel_quantizer: binarizer of the binary convolutions' kernels; none: full
            precision.
        kernel_constraint: constraint on their latent kernels (BiBench has none).
        activation: binarizer of the binary convolutions' inputs; none: full precision.
        nonlinearity: after batch norms and blocks; ``auto`` is Hardtanh with binarizers,
            ReLU without.
        binary_init: the binary convolutions' initialisation; ``auto`` is BiBench's for
            the binarizer (see the module docstring).
        zero_init_residual: start every block's second batch norm at γ = 0.

    Returns:
        An uncompiled Keras model ending in a softmax.

    Raises:
        BnnoError: a depth other than 18, 20 or 34.
    """
    if depth not in STAGES:
        raise BnnoError(f"bibench_resnet has no depth {depth}; choose one of: 18, 20, 34")
    with _no_constraint_warning():
        return _network(input_shape, num_classes, depth, filters, stem_filters,
                        kernel_quantizer, kernel_constraint, activation, nonlinearity,
                        binary_init, zero_init_residual)


def _network(input_shape, num_classes, depth, filters, stem_filters, kernel_quantizer,
             kernel_constraint, activation, nonlinearity, binary_init,
             zero_init_residual) -> tf.keras.Model:
    binary = activation is not None or kernel_quantizer is not None
    if nonlinearity == "auto":
        nonlinearity = "hardtanh" if binary else "relu"

    def act(x):
        return HardTanh()(x) if nonlinearity == "hardtanh" else tf.keras.layers.ReLU()(x)

    def conv(x, out_filters: int, strides: int):
        mirrored = same_mode(x.shape[1], 3, strides, 1) == "mirror"
        layer = MirroredQuantConv2D if mirrored else lq.layers.QuantConv2D
        return layer(out_filters, 3, strides=strides, padding="same", use_bias=False,
                     input_quantizer=quantizers.resolve(activation, "activation"),
                     kernel_quantizer=quantizers.resolve(kernel_quantizer, "kernel"),
                     kernel_constraint=kernel_constraint,
                     kernel_initializer=_initializer(binary_init, kernel_quantizer))(x)

    def block(x, out_filters: int, strides: int):
        shortcut = x
        if strides != 1 or x.shape[-1] != out_filters:
            shortcut = torch_bn(tf.keras.layers.Conv2D(
                out_filters, 1, strides=strides, use_bias=False,
                kernel_initializer=kaiming_fan_out())(x))
        y = act(torch_bn(conv(x, out_filters, strides)))
        y = tf.keras.layers.BatchNormalization(
            momentum=0.9, epsilon=1e-5,
            gamma_initializer="zeros" if zero_init_residual else "ones")(conv(y, out_filters, 1))
        return act(tf.keras.layers.add([y, shortcut]))

    image = tf.keras.Input(input_shape)
    x = tf.keras.layers.Conv2D(stem_filters, 3, padding="same", use_bias=False,
                               kernel_initializer=kaiming_fan_out())(image)
    x = act(torch_bn(x))
    for stage, blocks in enumerate(STAGES[depth]):
        for i in range(blocks):
            x = block(x, filters * 2**stage, 2 if stage and not i else 1)
    x = tf.keras.layers.GlobalAvgPool2D()(x)
    x = tf.keras.layers.Dense(num_classes, activation="softmax",
                              kernel_initializer=tf.keras.initializers.RandomNormal(0.0, 0.01))(x)
    return tf.keras.Model(image, x, name="bibench_resnet")
