"""ResNet-34 (He et al., 2016) as torchvision builds it (``torchvision.models.resnet34``),
full precision: the teacher of ReActNet's, AdamBNN's and CEMA's distillation, whose
official code loads ``resnet34(pretrained=True)``.

A 7×7/2 stem (64 channels), batch norm, ReLU and a 3×3/2 max pool; four stages of 3, 4,
6 and 3 basic blocks on 64, 128, 256 and 512 channels (3×3 convolution, batch norm,
ReLU, 3×3 convolution, batch norm, plus the shortcut, ReLU; the first block of stages
2-4 has stride 2 and a 1×1/2 convolution with batch norm as its shortcut); global
average pool, dense (``logits``), softmax. As in PyTorch: convolutions pad
symmetrically, the max pool pads with −∞, batch norm has epsilon 1e-5 and momentum 0.1;
convolution kernels start from Kaiming-normal (fan out, ReLU gain), batch norm at γ = 1,
β = 0, the classifier from ``nn.Linear``'s default. Layers carry torchvision's module
names (``layer2.0.downsample.0``; the classifier ``fc`` is ``logits``), which
``bnno.checkpoints.torchvision_resnet`` maps by.

The architecture is the same at any input size (no CIFAR variant: a teacher must match
torchvision's weights). ``width_multiplier`` is bnno's, for quick experiments; only 1.0
is torchvision's model.

Trainable parameters at 1000 classes: 21,797,672, torchvision's count
(``tests/models/test_reactnet.py``).
"""

from __future__ import annotations

import tensorflow as tf

from bnno.layers.padding import Pad
from bnno.models.reactnet_layers import batch_norm, scaled_widths
from bnno.models.registry import register
from bnno.models.torch_init import torch_initializers

WIDTHS = [64, 128, 256, 512]
BLOCKS = [3, 4, 6, 3]


def conv(x, filters: int, kernel_size: int, strides: int, name: str):
    """torchvision's convolution: no bias, padding k // 2 per side, Kaiming-normal
    (fan out, ReLU gain) initial kernel.

    Example:
        >>> conv(tf.keras.Input((8, 8, 4)), 6, 3, 2, "layer2.0.conv1").shape
        TensorShape([None, 4, 4, 6])
    """
    if kernel_size > 1:
        x = Pad(kernel_size // 2)(x)
    init = tf.keras.initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal")
    return tf.keras.layers.Conv2D(filters, kernel_size, strides=strides, use_bias=False,
                                  kernel_initializer=init, name=name)(x)


def basic_block(x, prefix: str, planes: int, strides: int):
    """torchvision's ``BasicBlock`` ``prefix`` (e.g. ``layer2.0``).

    Example:
        >>> basic_block(tf.keras.Input((8, 8, 16)), "layer2.0", 32, 2).shape
        TensorShape([None, 4, 4, 32])
    """
    shortcut = x
    if strides != 1 or x.shape[-1] != planes:
        shortcut = batch_norm(conv(x, planes, 1, strides, f"{prefix}.downsample.0"),
                              f"{prefix}.downsample.1")
    out = tf.keras.layers.ReLU()(batch_norm(conv(x, planes, 3, strides, f"{prefix}.conv1"),
                                            f"{prefix}.bn1"))
    out = batch_norm(conv(out, planes, 3, 1, f"{prefix}.conv2"), f"{prefix}.bn2")
    return tf.keras.layers.ReLU()(tf.keras.layers.add([out, shortcut]))


@register
def resnet34(input_shape: tuple[int, ...], num_classes: int, *,
             width_multiplier: float = 1.0) -> tf.keras.Model:
    """torchvision's ResNet-34, full precision.

    Example:
        A narrow one (bnno's, for quick runs; the teacher is
        ``resnet34((224, 224, 3), 1000)``, which takes seconds to build):

        >>> model = resnet34((32, 32, 3), 10, width_multiplier=0.125)
        >>> model.output_shape, model.get_layer("layer4.2.conv2").output_shape
        ((None, 10), (None, 1, 1, 64))

    Args:
        input_shape: image shape (height, width, channels).
        num_classes: size of the softmax output.
        width_multiplier: scales every width (1.0 is torchvision's model).

    Returns:
        An uncompiled Keras model ending in a softmax.
    """
    widths = scaled_widths(WIDTHS, width_multiplier)
    image = tf.keras.Input(input_shape)
    x = tf.keras.layers.ReLU()(batch_norm(conv(image, widths[0], 7, 2, "conv1"), "bn1"))
    x = tf.keras.layers.MaxPool2D(3, strides=2)(Pad(1, float("-inf"))(x))
    for stage, (planes, blocks) in enumerate(zip(widths, BLOCKS, strict=True)):
        for b in range(blocks):
            x = basic_block(x, f"layer{stage + 1}.{b}", planes, 2 if stage and not b else 1)
    x = tf.keras.layers.GlobalAvgPool2D()(x)
    x = tf.keras.layers.Dense(num_classes, name="logits", **torch_initializers(x.shape[-1]))(x)
    return tf.keras.Model(image, tf.keras.layers.Activation("softmax", name="softmax")(x),
                          name="resnet34")
