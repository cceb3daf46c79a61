"""ReAct-ResNet-18 (Liu et al., 2020), ReActNet on Bi-Real Net's ResNet-18, as in the
official code (liuzechun/ReActNet ``resnet/1_step1/birealnet.py`` and
``resnet/2_step2/birealnet.py``: ``birealnet18``).

A full-precision 7×7/2 stem (64 channels), batch norm and a 3×3/2 max pool, no
activation; four stages of 64, 128, 256 and 512 channels with four blocks each; a block
is learnable bias → binarizer → binary 3×3 convolution (stride 2 in the first block of
stages 2-4) → batch norm, plus the shortcut → RPReLU (bias → PReLU → bias). Where a
block strides, its shortcut is a 2×2 average pool, a full-precision 1×1 convolution and
batch norm (the official ``downsample``). Head: global average pool → dense (``logits``)
→ softmax. Binary: the 16 3×3 convolutions; full precision: the stem, the three
shortcut convolutions, batch norms, biases, PReLUs and classifier.

Trainable parameters at 1000 classes and 224×224: 11,704,424, the official count
(``birealnet18()`` of either step, counted with PyTorch); bnno's model has the same
(``tests/models/test_reactnet.py``).

bnno's choices where the official code has none:

* There is no CIFAR variant in the official code. As bnno's BNext-18, inputs of 64×64
  or smaller get a 3×3/1 stem convolution and no max pool (CIFAR's 32×32 reach 4×4
  before the pool).
* Narrow widths (``width_multiplier``) keep the official ratios: the first stage gets
  ``round(64 · width_multiplier)`` channels, the others 2, 4 and 8 times that.
* On an odd-sized map the shortcut's average pool and the strided convolution differ in
  size and the official code fails; bnno pools with "same" padding there
  (``bnno.models.reactnet_layers.average_pool``), so 28×28 inputs build.

The step is chosen by ``kernel_quantizer``: ``react_weight`` (the default) is step 2,
``None`` step 1 (real weights, binary activations).
"""

from __future__ import annotations

import tensorflow as tf

from bnno.layers.padding import Pad
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
from bnno.models.torch_init import TorchUniform
from bnno.quantizers import QuantizerSpec

WIDTHS = [64, 128, 256, 512]
BLOCKS = 4  # per stage: birealnet18 is BiRealNet(BasicBlock, [4, 4, 4, 4])


def block(x, prefix: str, planes: int, strides: int, binary: dict):
    """Official ``BasicBlock`` ``prefix`` (e.g. ``layer2.0``): ``x`` to ``planes``.

    Example:
        >>> binary = dict(activation="react_sign", kernel_quantizer="react_weight",
        ...               kernel_constraint=None)
        >>> block(tf.keras.Input((8, 8, 16)), "layer2.0", 32, 2, binary).shape
        TensorShape([None, 4, 4, 32])
    """
    shortcut = x
    if strides == 2:  # the only blocks that change the width too
        shortcut = tf.keras.layers.Conv2D(planes, 1, use_bias=False,
                                          name=f"{prefix}.downsample.1",
                                          kernel_initializer=TorchUniform())(average_pool(x))
        shortcut = batch_norm(shortcut, f"{prefix}.downsample.2")
    out = LearnableBias(name=f"{prefix}.move0")(x)
    out = binary_conv(out, planes, 3, strides, f"{prefix}.binary_conv", **binary)
    out = tf.keras.layers.add([batch_norm(out, f"{prefix}.bn1"), shortcut])
    return rprelu(out, prefix, "")


@register
def reactnet_resnet18(
    input_shape: tuple[int, ...],
    num_classes: int,
    *,
    width_multiplier: float = 1.0,
    kernel_quantizer: QuantizerSpec = "react_weight",
    kernel_constraint: str | None = None,
    activation: QuantizerSpec = "react_sign",
) -> tf.keras.Model:
    """ReAct-ResNet-18, the official Bi-Real-Net-based ReActNet.

    Example:
        A narrow one for CIFAR-sized images (the paper's is
        ``reactnet_resnet18((224, 224, 3), 1000)``, which takes seconds to build):

        >>> model = reactnet_resnet18((32, 32, 3), 10, width_multiplier=0.125)
        >>> model.output_shape, model.get_layer("layer4.3.binary_conv").output_shape
        ((None, 10), (None, 4, 4, 64))

    Args:
        input_shape: image shape (height, width, channels); 64×64 or smaller gets a
            3×3/1 stem without max pool (bnno's choice; see the module docstring).
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
    if min(input_shape[0], input_shape[1]) <= 64:
        x = batch_norm(stem_conv(image, widths[0], 3, 1, "conv1"), "bn1")
    else:
        x = batch_norm(stem_conv(image, widths[0], 7, 2, "conv1"), "bn1")
        x = tf.keras.layers.MaxPool2D(3, strides=2)(Pad(1, float("-inf"))(x))
    for stage, planes in enumerate(widths):
        for b in range(BLOCKS):
            strides = 2 if stage > 0 and b == 0 else 1
            x = block(x, f"layer{stage + 1}.{b}", planes, strides, binary)
    return tf.keras.Model(image, head(x, num_classes), name="reactnet_resnet18")
