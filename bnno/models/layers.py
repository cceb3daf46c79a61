"""Layer helpers shared by several model files.

Example:
    >>> import tensorflow as tf
    >>> pool_3x3(torch_bn(tf.keras.Input((8, 8, 4)))).shape
    TensorShape([None, 3, 3, 4])
"""

from __future__ import annotations


def torch_bn(x):
    """Batch norm with PyTorch's defaults (momentum 0.1, i.e. Keras 0.9; epsilon 1e-5), for
    models whose reference code is PyTorch (BNext, Si-BNN).

    Example:
        >>> import tensorflow as tf
        >>> y = torch_bn(tf.keras.Input((8, 8, 16)))
        >>> norm = y.node.layer
        >>> norm.momentum, norm.epsilon
        (0.9, 1e-05)
    """
    import tensorflow as tf

    return tf.keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)


def pool_3x3(x):
    """3×3/2 max pool, "valid" as in the ImageNet papers' code; "same" where a feature map
    is already smaller than 3×3 (small inputs such as CIFAR-10 or MNIST), so the
    ImageNet models build for any input size and keep their exact shapes on ImageNet.

    Example:
        >>> import tensorflow as tf
        >>> pool_3x3(tf.keras.Input((56, 56, 64))).shape
        TensorShape([None, 27, 27, 64])
        >>> pool_3x3(tf.keras.Input((2, 2, 64))).shape
        TensorShape([None, 1, 1, 64])
    """
    import tensorflow as tf

    small = min(x.shape[1], x.shape[2]) < 3
    return tf.keras.layers.MaxPool2D(3, strides=2, padding="same" if small else "valid")(x)
