"""XNOR-Net for ImageNet as used by the Bop paper (Helwegen et al., 2019, §5.3).

A full-precision 96 11×11/4 convolution with ReLU, then binary convolutions 256 (5×5),
384, 384, 256 (3×3) with max pools, and two binary convolutions standing in for the
dense layers (4096 6×6 "valid", 4096 1×1); a ReLU, and a full-precision dense
classifier. Batch norm (momentum 0.9, with scale) after every convolution, with the
epsilons of the paper's code; l2 regularization only on the two full-precision layers.

``normalization="layer"`` is the network the Bop2ndOrder code names ``xnornet``
(CuauSuarez/Bop2ndOrder ``bnn_optimization/models/xnor.py``): a layer norm (Keras'
default) wherever this one has a batch norm, nothing else changed. The name
``xnornet_batch`` of that code's README is this network with batch norm.
"""

from __future__ import annotations

import larq as lq
import tensorflow as tf

from bnno import quantizers
from bnno.layers.common import Normalization, pool_3x3
from bnno.layers.common import normalization as norm_layer
from bnno.models.registry import register, register_alias
from bnno.quantizers import QuantizerSpec


@register
def xnornet(
    input_shape: tuple[int, ...],
    num_classes: int,
    *,
    kernel_quantizer: QuantizerSpec = "ste_sign",
    kernel_constraint: str | None = "weight_clip",
    l2: float = 5e-7,
    activation: QuantizerSpec = "ste_sign",
    normalization: Normalization = "batch",
) -> tf.keras.Model:
    """XNOR-Net (Rastegari et al., 2016) in the Bop paper's ImageNet form.

    Example:
        The ImageNet model (seconds to build; on 32×32 inputs the 6×6 convolution
        shrinks to the 1×1 map it gets)::

            model = xnornet((224, 224, 3), 1000)

    Args:
        input_shape: image shape (height, width, channels).
        num_classes: size of the softmax output.
        kernel_quantizer: quantizer spec of the kernels (``bnno.quantizers``).
        kernel_constraint: constraint on the latent binary kernels.
        l2: l2 factor on the kernels of the full-precision first and last layers.
        activation: binarizer of the binary layers' inputs: a larq quantizer name,
            ``bnext_sign`` or ``sibnn`` (see ``bnno.quantizers``).
        normalization: ``batch`` (the Bop paper's) or ``layer`` (the Bop2ndOrder code's).

    Returns:
        An uncompiled Keras model ending in a softmax.
    """
    def binary() -> dict:
        # A fresh quantizer spec per layer: each layer owns its binarizer (and any
        # trainable thresholds it has).
        return dict(input_quantizer=quantizers.resolve(activation, "activation"),
                    kernel_quantizer=quantizers.resolve(kernel_quantizer, "kernel"),
                    kernel_constraint=kernel_constraint,
                    use_bias=False)
    regularizer = tf.keras.regularizers.l2(l2) if l2 else None

    def bn(x, epsilon: float = 1e-4):
        return norm_layer(normalization, momentum=0.9, epsilon=epsilon)(x)

    image = tf.keras.Input(input_shape)
    x = tf.keras.layers.Conv2D(96, 11, strides=4, padding="same", use_bias=False,
                               kernel_regularizer=regularizer)(image)
    x = bn(x, epsilon=1e-5)
    x = tf.keras.layers.Activation("relu")(x)
    x = bn(pool_3x3(x))
    x = bn(pool_3x3(lq.layers.QuantConv2D(256, 5, padding="same", **binary())(x)))
    x = bn(lq.layers.QuantConv2D(384, 3, padding="same", **binary())(x))
    x = bn(lq.layers.QuantConv2D(384, 3, padding="same", **binary())(x))
    x = bn(pool_3x3(lq.layers.QuantConv2D(256, 3, padding="same", **binary())(x)))
    # The paper's 6×6 "valid" convolution covers ImageNet's whole 6×6 feature map; on
    # smaller inputs its kernel shrinks to the map's size, so it still acts as a dense layer.
    kernel = (min(6, x.shape[1]), min(6, x.shape[2]))
    x = bn(lq.layers.QuantConv2D(4096, kernel, padding="valid", **binary())(x))
    x = bn(lq.layers.QuantConv2D(4096, 1, padding="valid", **binary())(x), epsilon=1e-3)
    x = tf.keras.layers.Activation("relu")(x)
    x = tf.keras.layers.Flatten()(x)
    x = tf.keras.layers.Dense(num_classes, use_bias=False, kernel_regularizer=regularizer)(x)
    x = tf.keras.layers.Activation("softmax")(x)
    return tf.keras.Model(image, x, name="xnornet")


register_alias("xnornet_batch", "xnornet", normalization="batch")
