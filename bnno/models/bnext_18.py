"""BNext-18 (Guo et al., 2023): BNext's binary modules on the ResNet-18 layout, as in
the official code.

Stem: 7×7/2 convolution, batch norm and a 3×3/2 max pool, no activation (on inputs of
64×64 or smaller: a 3×3/1 convolution and batch norm, no pool). Four stages of 64, 128,
256, 512 channels with two blocks each; a block is an ELM-attention 3×3 module (whose
convolution changes the width and, at a stage start, the resolution) followed by a plain
3×3 module. The ELM module's shortcut is PReLU(input), at a stage start through a 2×2
average pool, a full-precision 1×1 convolution and batch norm; its mix uses that
shortcut. The weights binarize exactly once the temperature is below 1e-5. Head: PReLU →
global average pool → dense ``logits`` → ``softmax``. Full-precision layers (stem,
shortcut convolutions, SE attention, classifier) keep PyTorch's default initialisation
(``bnno.models.torch_init``), binary kernels start from N(0, 1e-3²), as in the official code.
"""

from __future__ import annotations

import tensorflow as tf

from bnno.errors import BnnoError
from bnno.layers.common import torch_bn
from bnno.layers.padding import Pad
from bnno.models.bnext import head, published, quantizer_settings
from bnno.models.bnext_layers import binary_module, check_halvable, prelu
from bnno.models.registry import register
from bnno.models.torch_init import torch_initializers
from bnno.quantizers import QuantizerSpec


@register(published=published(None, 0.6104))
def bnext_18(
    input_shape: tuple[int, ...],
    num_classes: int,
    *,
    width_multiplier: float = 1.0,
    kernel_quantizer: QuantizerSpec = "bnext_weight",
    kernel_constraint: str | None = "weight_clip",
    activation: QuantizerSpec = "bnext_sign",
    blocks_per_stage: int = 2,
) -> tf.keras.Model:
    """BNext-18: ResNet-18 layout with BNext's binary modules.

    Example:
        The ImageNet model, and a narrow one for CIFAR-sized images with the 3×3/1 stem
        (each takes seconds to build)::

            model = bnext_18((224, 224, 3), 1000)
            narrow = bnext_18((32, 32, 3), 10, width_multiplier=0.25)

    Args:
        input_shape: image shape (height, width, channels).
        num_classes: size of the softmax output.
        width_multiplier: scales every width (1.0 is the paper's model).
        kernel_quantizer: weight binarizer; ``bnext_weight`` is the temperature one.
        kernel_constraint: ``weight_clip`` clips latent weights to ±1.5.
        activation: activation binarizer.
        blocks_per_stage: blocks in each of the four stages (2 is ResNet-18's; the
            official constructor's ``layers`` argument).

    Returns:
        An uncompiled Keras model ending in a softmax.
    """
    # The official BNext-18 code switches to sign(w) below 1e-5 (BNext-T to L: 1e-7).
    settings = quantizer_settings(activation, kernel_quantizer, kernel_constraint, 1.5, 1e-5)
    widths = [max(8, int(round(w * width_multiplier))) for w in (64, 128, 256, 512)]
    image = tf.keras.Input(input_shape)
    channels = input_shape[-1]
    if min(input_shape[0], input_shape[1]) <= 64:
        x = torch_bn(tf.keras.layers.Conv2D(widths[0], 3, use_bias=False,
                                            **torch_initializers(9 * channels))(Pad(1)(image)))
    else:
        x = torch_bn(tf.keras.layers.Conv2D(widths[0], 7, strides=2, use_bias=False,
                                            **torch_initializers(49 * channels))(Pad(3)(image)))
        x = tf.keras.layers.MaxPool2D(3, strides=2)(Pad(1, float("-inf"))(x))
    if blocks_per_stage < 1:
        raise BnnoError(f"blocks_per_stage must be at least 1, got {blocks_per_stage}")
    for stage, planes in enumerate(widths):
        for block in range(blocks_per_stage):
            strides = 2 if stage > 0 and block == 0 else 1
            if strides == 2:
                check_halvable(x, "bnext_18", input_shape)
            shortcut = prelu(x)
            if strides == 2 or x.shape[-1] != planes:
                shortcut = tf.keras.layers.AvgPool2D(2, strides=strides)(shortcut)
                shortcut = torch_bn(tf.keras.layers.Conv2D(
                    planes, 1, use_bias=False,
                    **torch_initializers(shortcut.shape[-1]))(shortcut))
            x = binary_module(x, 3, strides, settings, out_channels=planes,
                              mix_input=shortcut, shortcut=shortcut, elm=True)
            x = binary_module(x, 3, 1, settings)
    return tf.keras.Model(image, head(x, num_classes), name="bnext_18")
