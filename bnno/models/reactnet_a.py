"""ReActNet-A (Liu et al., 2020, "ReActNet: Towards Precise Binary Neural Network with
Generalized Activation Functions"), the MobileNet-based model, as in the official code
(liuzechun/ReActNet ``mobilenet/1_step1/reactnet.py`` and ``mobilenet/2_step2/reactnet.py``;
AdamBNN's and CEMA's ReActNet-A are the same network).

A full-precision 3×3 stem (32 channels, stride 2, batch norm, no activation), then 13
blocks on the widths [64, 128, 128, 256, 256, 512 ×6, 1024 ×2]. A block is

* learnable bias → binarizer → binary 3×3 convolution (stride 2 in blocks 2, 4, 6 and
  12) → batch norm, plus the input (2×2 average-pooled where the block strides) →
  RPReLU (bias → PReLU → bias);
* learnable bias → binarizer → binary 1×1 convolution → batch norm, plus the first
  half's output → RPReLU. Where the width doubles (blocks 1, 2, 4, 6, 12) two 1×1
  convolutions run on the same input, each with its batch norm and the residual, and
  are concatenated.

Head: global average pool → dense (``logits``) → softmax. Binary: the 13 3×3 and 18 1×1
convolutions; full precision: the stem, batch norms, biases, PReLUs and classifier.

Trainable parameters at 1000 classes and 224×224: 29,343,592, the official count
(``reactnet()`` of either step, counted with PyTorch); bnno's model has the same
(``tests/models/test_reactnet.py``).

bnno's choices where the official code has none:

* The official code decides stride 2 by ``w[i-1] != w[i] and w[i] != 64``, a test of the
  literal width 64; bnno places the strides by block index, which is the same at width
  1 and stays the same at any ``width_multiplier``. Narrow widths keep the official
  ratios (``bnno.models.reactnet_layers.scaled_widths``: the stem gets
  ``round(32 · width_multiplier)`` channels, every other width that times its ratio).
* There is no CIFAR variant in the official code. As bnno's BNext (ReActNet-A's layout),
  inputs of 64×64 or smaller get a stride-1 stem: CIFAR's 32×32 reach 2×2 before the
  pool instead of 1×1.
* On an odd-sized map a stride-2 block's pooled shortcut and strided convolution differ
  in size and the official code fails; bnno pools with "same" padding there
  (``bnno.models.reactnet_layers.average_pool``), so 28×28 inputs build. Even sizes
  (224, 32) are unaffected.

The step is chosen by ``kernel_quantizer``: ``react_weight`` (the default) is step 2
(binary weights and activations), ``None`` is step 1 (binary activations, real
weights). Initial kernels follow each step's official code
(``bnno.models.reactnet_layers``).
"""

from __future__ import annotations

import tensorflow as tf

from bnno.models.reactnet_layers import (
    LearnableBias,
    average_pool,
    batch_norm,
    binary_conv,
    head,
    rprelu,
    scaled_widths,
    stem_conv,
)
from bnno.models.registry import register
from bnno.quantizers import QuantizerSpec

WIDTHS = [32, 64] + [128] * 2 + [256] * 2 + [512] * 6 + [1024] * 2
# The blocks whose 3×3 convolution has stride 2: the official rule on the full widths
# (blocks 2, 4, 6 and 12).
STRIDED = tuple(i for i in range(1, len(WIDTHS))
                if WIDTHS[i - 1] != WIDTHS[i] and WIDTHS[i] != 64)


def block(x, i: int, planes: int, strides: int, binary: dict):
    """Official block ``feature.<i>``: ``x`` (``inplanes`` channels) to ``planes``.

    Example:
        >>> binary = dict(activation="react_sign", kernel_quantizer="react_weight",
        ...               kernel_constraint=None)
        >>> block(tf.keras.Input((8, 8, 16)), 3, 32, 2, binary).shape
        TensorShape([None, 4, 4, 32])
    """
    inplanes, p = x.shape[-1], f"feature.{i}"
    out1 = LearnableBias(name=f"{p}.move11")(x)
    out1 = batch_norm(binary_conv(out1, inplanes, 3, strides, f"{p}.binary_3x3", **binary),
                      f"{p}.bn1")
    shortcut = average_pool(x) if strides == 2 else x
    out1 = rprelu(tf.keras.layers.add([shortcut, out1]), p, 1)
    out2 = LearnableBias(name=f"{p}.move21")(out1)
    if planes == inplanes:
        out2 = batch_norm(binary_conv(out2, planes, 1, 1, f"{p}.binary_pw", **binary),
                          f"{p}.bn2")
        out2 = tf.keras.layers.add([out2, out1])
    else:
        halves = []
        for half in (1, 2):
            y = binary_conv(out2, inplanes, 1, 1, f"{p}.binary_pw_down{half}", **binary)
            halves.append(tf.keras.layers.add([batch_norm(y, f"{p}.bn2_{half}"), out1]))
        out2 = tf.keras.layers.concatenate(halves)
    return rprelu(out2, p, 2)


@register
def reactnet_a(
    input_shape: tuple[int, ...],
    num_classes: int,
    *,
    width_multiplier: float = 1.0,
    kernel_quantizer: QuantizerSpec = "react_weight",
    kernel_constraint: str | None = None,
    activation: QuantizerSpec = "react_sign",
) -> tf.keras.Model:
    """ReActNet-A, the official MobileNet-based ReActNet.

    Example:
        A narrow one for CIFAR-sized images (the paper's is
        ``reactnet_a((224, 224, 3), 1000)``, which takes seconds to build):

        >>> model = reactnet_a((32, 32, 3), 10, width_multiplier=0.125)
        >>> model.output_shape, model.get_layer("feature.12.binary_pw_down2").output_shape
        ((None, 10), (None, 2, 2, 64))

    Args:
        input_shape: image shape (height, width, channels); 64×64 or smaller gets a
            stride-1 stem (bnno's choice; see the module docstring).
        num_classes: size of the softmax output.
        width_multiplier: scales every width, keeping their ratios (1.0 is the
            paper's model).
        kernel_quantizer: binarizer of the binary convolutions' kernels:
            ``react_weight`` (step 2), or none for step 1's real weights.
        kernel_constraint: constraint on the latent kernels (the official code has none).
        activation: binarizer of the binary convolutions' inputs (``react_sign``).

    Returns:
        An uncompiled Keras model ending in a softmax.
    """
    widths = scaled_widths(WIDTHS, width_multiplier)
    binary = dict(activation=activation, kernel_quantizer=kernel_quantizer,
                  kernel_constraint=kernel_constraint)
    image = tf.keras.Input(input_shape)
    small = min(input_shape[0], input_shape[1]) <= 64
    x = stem_conv(image, widths[0], 3, 1 if small else 2, "feature.0.conv1")
    x = batch_norm(x, "feature.0.bn1")
    for i in range(1, len(widths)):
        x = block(x, i, widths[i], 2 if i in STRIDED else 1, binary)
    return tf.keras.Model(image, head(x, num_classes), name="reactnet_a")
