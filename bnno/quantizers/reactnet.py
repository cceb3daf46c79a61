"""ReActNet's binarizers (Liu et al., 2020) as larq quantizers, as in the official code
(liuzechun/ReActNet ``mobilenet/2_step2/reactnet.py`` and ``resnet/2_step2/birealnet.py``;
AdamBNN's and CEMA's copies are the same).

``ReActSign`` (hparam name ``react_sign``) binarizes activations as the official
``BinaryActivation``: PyTorch's ``torch.sign`` in the forward pass (sign(0) = 0, so the
zero padding of a binary 3×3 convolution stays 0), and in the backward pass the gradient
of the piecewise quadratic that the code puts behind it (−1 below −1, x² + 2x on [−1, 0),
−x² + 2x on [0, 1), 1 from 1 on), i.e. max(0, 2 − 2|x|), Bi-Real Net's ApproxSign. larq's
``approx_sign`` has that gradient but maps 0 to +1. The learnable threshold of the
paper's RSign is the ``LearnableBias`` layer before it (``bnno.models.reactnet_layers``).
Export rewrites its layers into LCE's form with larq's sign, as BNext's
(``bnno.layers.zero_sign``).

``ReActWeight`` (hparam name ``react_weight``) binarizes the latent kernels of step 2 as
the official ``HardBinaryConv``: α·sign(w) with α = mean |w| per output channel (every
axis but the last here, the official dims 1-3 of OIHW) held constant in the backward
pass (``scaling_factor.detach()``), sign(0) = 0, and the gradient of
``clamp(w, −1, 1)`` (``binary.detach() − clipped.detach() + clipped``): the upstream
gradient where −1 ≤ w ≤ 1, else 0. PyTorch defines clamp's derivative at the two
boundaries as 1 ("the subgradient 1", ``derivatives.yaml``), which the versions the code
names (PyTorch 1.4 for ReActNet, 1.7.1 for AdamBNN) apply; so does this class. A kernel
stored as exactly ±1 (the re-uploaded official models) therefore still learns.

Example:
    >>> import larq as lq
    >>> conv = lq.layers.QuantConv2D(8, 3, input_quantizer="react_sign",
    ...                              kernel_quantizer="react_weight")
    >>> type(conv.input_quantizer).__name__, type(conv.kernel_quantizer).__name__
    ('ReActSign', 'ReActWeight')
"""

from __future__ import annotations

import larq as lq
import tensorflow as tf

from bnno.layers.zero_sign import zero_sign_rewrite
from bnno.quantizers.registry import register
from bnno.quantizers.sign_flips import CountsSignFlips


@register("react_sign", roles=("activation",), kind="sign", export="rewrite",
          rewrite=zero_sign_rewrite)
class ReActSign(lq.quantizers.Quantizer):
    """sign(x) with sign(0) = 0; gradient max(0, 2 − 2|x|) (the official ApproxSign).

    Example:
        >>> x = tf.constant([-1.5, -0.5, 0.0, 0.25, 1.0])
        >>> with tf.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = ReActSign()(x)
        >>> y.numpy()
        array([-1., -1.,  0.,  1.,  1.], dtype=float32)
        >>> tape.gradient(y, x).numpy()
        array([0. , 1. , 2. , 1.5, 0. ], dtype=float32)
    """

    precision = 1

    def call(self, inputs):
        @tf.custom_gradient
        def sign(x):
            def grad(dy):
                return dy * tf.maximum(2.0 - 2.0 * tf.abs(x), 0.0)

            return tf.sign(x), grad

        return sign(inputs)


@register("react_weight", roles=("kernel",), kind="scaled")
class ReActWeight(CountsSignFlips, lq.quantizers._BaseQuantizer):
    """α·sign(w), α = mean |w| per output channel (constant in the backward pass);
    gradient 1 where −1 ≤ w ≤ 1, else 0.

    ``precision = 1``: larq counts its kernels as binary; its ``flip_ratio`` metric counts
    sign changes (``bnno.quantizers.sign_flips``).

    Example:
        >>> w = tf.constant([[0.5, -2.0], [-0.25, 0.0]])  # two output channels
        >>> with tf.GradientTape() as tape:
        ...     tape.watch(w)
        ...     y = ReActWeight()(w)
        >>> y.numpy().tolist()  # α = 0.375 and 1.0
        [[0.375, -1.0], [-0.375, 0.0]]
        >>> tape.gradient(y, w).numpy().tolist()
        [[1.0, 0.0], [1.0, 1.0]]
    """

    precision = 1

    def call(self, inputs):
        axes = list(range(inputs.shape.rank - 1))

        @tf.custom_gradient
        def binarize(w):
            scale = tf.reduce_mean(tf.abs(w), axis=axes, keepdims=True)

            def grad(dy):
                return dy * tf.cast(tf.abs(w) <= 1.0, dy.dtype)

            return scale * tf.sign(w), grad

        return super().call(binarize(inputs))
