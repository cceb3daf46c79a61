"""The pieces ReActNet-A and ReAct-ResNet-18 share (Liu et al., 2020; liuzechun/ReActNet
``mobilenet/*/reactnet.py``, ``resnet/*/birealnet.py``).

Every layer gets the name of the official module it stands for (``feature.3.move11``,
``layer2.0.binary_conv``; the classifier ``fc`` is ``logits``, as bnno's distillation
reads it), so that an official state dict maps onto the Keras model by name
(``bnno.checkpoints.reactnet``).

Conventions of the official PyTorch code: batch norm with momentum 0.1 (Keras 0.9) and
epsilon 1e-5; PReLU per channel starting at 0.25; learnable biases starting at 0; the
binary convolutions zero-pad their *binarized* input on every side (PyTorch's padding;
TF's "same" pads only the bottom/right at stride 2), which ``Pad`` before the
convolution gives since ``react_sign`` maps 0 to 0.

Initial kernels of the binary convolutions follow the official code of each step: real
weights (no ``kernel_quantizer``, step 1) PyTorch's ``nn.Conv2d`` default
(``bnno.models.torch_init``); latent weights (step 2) ``torch.rand(...) * 0.001``, i.e.
U[0, 0.001), as ``HardBinaryConv``; plain ±1 kernels of a latent-free optimizer (CEMA,
Bop: larq's ``NoOp`` of precision 1) the signs of U(−0.001, 0.001), CEMA's
``imagenet/step2/reactnet.py`` draw.

Example:
    >>> x = rprelu(tf.keras.Input((8, 8, 16)), "feature.1", 1)
    >>> [layer.name for layer in tf.keras.Model(x.node.layer.input, x).layers][-1]
    'feature.1.move13'
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import larq as lq
import tensorflow as tf

from bnno import quantizers
from bnno.layers.padding import Pad
from bnno.models.bnext_layers import LearnableBias
from bnno.models.torch_init import TorchUniform, torch_initializers
from bnno.quantizers import QuantizerSpec


def scaled_widths(layout: list[int], width_multiplier: float) -> list[int]:
    """``layout`` scaled so that every width stays the same multiple of the first: the
    first is ``round(first · width_multiplier)`` (at least 1), the others that times
    their official ratio. Widths that double keep doubling, as the blocks require.

    Example:
        >>> scaled_widths([32, 64, 128, 128], 0.25)
        [8, 16, 32, 32]
        >>> scaled_widths([32, 64, 128], 0.05)
        [2, 4, 8]
    """
    base = max(1, int(round(layout[0] * width_multiplier)))
    return [base * w // layout[0] for w in layout]


def batch_norm(x, name: str):
    """PyTorch's ``nn.BatchNorm2d`` defaults (momentum 0.1, epsilon 1e-5).

    Example:
        >>> batch_norm(tf.keras.Input((4, 4, 8)), "bn1").node.layer.epsilon
        1e-05
    """
    return tf.keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=name)(x)


def rprelu(x, prefix: str, index: int | str):
    """RPReLU: learnable bias → per-channel PReLU (0.25) → learnable bias; the official
    ``move{i}2``, ``prelu{i}``, ``move{i}3`` of ReActNet-A (``index`` 1 or 2). ReAct-ResNet
    names them ``move1``, ``prelu``, ``move2`` (``index=""``).

    Example:
        >>> y = rprelu(tf.keras.Input((4, 4, 8)), "layer1.0", "")
        >>> y.node.layer.name
        'layer1.0.move2'
    """
    names = ((f"move{index}2", f"prelu{index}", f"move{index}3") if index != ""
             else ("move1", "prelu", "move2"))
    x = LearnableBias(name=f"{prefix}.{names[0]}")(x)
    x = tf.keras.layers.PReLU(tf.keras.initializers.Constant(0.25), shared_axes=[1, 2],
                              name=f"{prefix}.{names[1]}")(x)
    return LearnableBias(name=f"{prefix}.{names[2]}")(x)


def _plain_signs(spec: QuantizerSpec) -> bool:
    # The trainer gives a latent-free optimizer's plain ±1 kernels as a Keras config of
    # its LatentFreeKernel (bnno.quantizers.sign_flips), larq's NoOp of precision 1. A
    # registered quantizer of ±1 kernels with a scale (``channel_scale``) keeps the latent
    # draw instead: a set switched to it then starts from the same function as the
    # latent-weight model (bnno.optimizers.switch).
    return isinstance(spec, Mapping) and (spec.get("class_name") == "LatentFreeKernel"
                                          or spec.get("config", {}).get("precision") == 1)


def binary_kernel_initializer(kernel_quantizer: QuantizerSpec):
    """The official initial kernel of a binary convolution for ``kernel_quantizer`` (see
    the module docstring).

    Example:
        >>> type(binary_kernel_initializer(None)).__name__
        'TorchUniform'
        >>> binary_kernel_initializer("react_weight").get_config()["minval"]
        0.0
        >>> noop = {"class_name": "NoOp", "config": {"precision": 1}}
        >>> binary_kernel_initializer(noop).get_config()["minval"]
        -0.001
    """
    if kernel_quantizer is None:
        return TorchUniform()
    if _plain_signs(kernel_quantizer):
        return tf.keras.initializers.RandomUniform(-1e-3, 1e-3)
    return tf.keras.initializers.RandomUniform(0.0, 1e-3)


def binary_conv(x, filters: int, kernel_size: int, strides: int, name: str, *,
                activation: QuantizerSpec, kernel_quantizer: QuantizerSpec,
                kernel_constraint: str | None):
    """Binarized input → convolution without bias, PyTorch's padding (k // 2 per side).

    Example:
        >>> y = binary_conv(tf.keras.Input((8, 8, 4)), 6, 3, 2, "feature.3.binary_3x3",
        ...                 activation="react_sign", kernel_quantizer="react_weight",
        ...                 kernel_constraint=None)
        >>> y.shape, y.node.layer.name
        (TensorShape([None, 4, 4, 6]), 'feature.3.binary_3x3')
    """
    if kernel_size > 1:
        x = Pad(kernel_size // 2)(x)
    # larq warns of "starved weights" for every binary kernel without a constraint; the
    # official code has none (its clip STE zeroes the gradient beyond ±1 by design).
    larq_log = logging.getLogger("larq.layers_base")
    level = larq_log.level
    larq_log.setLevel(logging.ERROR)
    try:
        conv = lq.layers.QuantConv2D(
            filters, kernel_size, strides=strides, padding="valid", use_bias=False, name=name,
            input_quantizer=quantizers.resolve(activation, "activation"),
            kernel_quantizer=quantizers.resolve(kernel_quantizer, "kernel"),
            kernel_constraint=kernel_constraint,
            kernel_initializer=binary_kernel_initializer(kernel_quantizer))
    finally:
        larq_log.setLevel(level)
    return conv(x)


def average_pool(x, strides: int = 2):
    """PyTorch's ``AvgPool2d(2, stride)``; on an odd-sized map, where the official code's
    pooled and strided-convolution paths disagree in size (⌊n/2⌋ against ⌈n/2⌉) and its
    addition fails, bnno pools with TF's "same" padding, averaging the real pixels only,
    so both paths give ⌈n/2⌉ and odd inputs (MNIST's 28×28) build.

    Example:
        >>> average_pool(tf.keras.Input((8, 8, 4))).shape
        TensorShape([None, 4, 4, 4])
        >>> average_pool(tf.keras.Input((7, 7, 4))).shape
        TensorShape([None, 4, 4, 4])
    """
    odd = x.shape[1] % 2 or x.shape[2] % 2
    return tf.keras.layers.AvgPool2D(2, strides=strides,
                                     padding="same" if odd else "valid")(x)


def stem_conv(image, filters: int, kernel_size: int, strides: int, name: str):
    """A full-precision convolution without bias, PyTorch's padding and initialisation.

    Example:
        >>> stem_conv(tf.keras.Input((32, 32, 3)), 8, 3, 2, "conv1").shape
        TensorShape([None, 16, 16, 8])
    """
    return tf.keras.layers.Conv2D(
        filters, kernel_size, strides=strides, use_bias=False, name=name,
        kernel_initializer=TorchUniform())(Pad(kernel_size // 2)(image))


def head(x, num_classes: int):
    """Global average pool → dense ``logits`` (PyTorch's initialisation) → ``softmax``.

    Example:
        >>> head(tf.keras.Input((2, 2, 8)), 10).node.layer.name
        'softmax'
    """
    x = tf.keras.layers.GlobalAvgPool2D()(x)
    x = tf.keras.layers.Dense(num_classes, name="logits", **torch_initializers(x.shape[-1]))(x)
    return tf.keras.layers.Activation("softmax", name="softmax")(x)
