"""BNext's binarizers as larq quantizers (Guo et al., 2023; the official PyTorch code).

``BNextSign`` (hparam name ``bnext_sign``) binarizes activations: PyTorch's sign in the
forward pass (sign(0) = 0, so a zero-padded border stays 0 after binarization, as in
the official code), straight-through gradient 1 where |x| <= 1.5. larq's
``SteSign(clip_value=1.5)`` has the same gradient but maps 0 to +1, which would turn
padding into +1 (see ``bnno.models.bnext``), hence this class.

``BNextWeight`` (hparam name ``bnext_weight``) binarizes latent weights progressively:
``clip(w / T, −1, 1)`` with a temperature ``T`` that falls by 0.9 per epoch (BNext's
"temperature curve"), and exactly ``sign(w)`` once ``T`` is below ``cutoff`` (1e-7 in
BNext-T/S/M/L, 1e-5 in BNext-18). The gradient is the identity (no clip mask, no 1/T).
``T`` is a (non-trainable) variable of the quantizer, so checkpoints carry it; the
trainer sets it through the quantizer's epoch hook (``on_epochs_done``) to ``0.9 ** e``
after ``e`` epochs, at the start of training too. Setting it from the epoch count (rather
than multiplying) makes a resumed run continue exactly where the uninterrupted one would
be.

Example:
    >>> import larq as lq
    >>> conv = lq.layers.QuantConv2D(64, 3, input_quantizer="bnext_sign",
    ...                              kernel_quantizer="bnext_weight",
    ...                              kernel_constraint=lq.constraints.WeightClip(1.5))
    >>> type(conv.input_quantizer).__name__, type(conv.kernel_quantizer).__name__
    ('BNextSign', 'BNextWeight')
"""

from __future__ import annotations

import larq as lq
import numpy as np
import tensorflow as tf

from bnno.layers.padding import Pad, inbound_layer, same_mode
from bnno.layers.sign_conv import Rewrite, SignConv
from bnno.quantizers.registry import register

# The temperature's factor per epoch.
DECAY = 0.9

def lce_rewrite(layer, kernel: np.ndarray) -> Rewrite | None:
    """The LCE form of a binary convolution on ``bnext_sign`` inputs (its ``rewrite`` hook,
    see ``bnno.layers.sign_conv``): larq's sign, and the zero padding of the layer before
    it (``Pad``) moved into the convolution as TF's "same".

    Inside the image the two signs differ only on an exact 0.0. Where PyTorch's
    symmetric padding differs from TF's "same" (stride 2 on an even size: TF pads the
    bottom/right only), the input and output are mirrored around the convolution, whose
    kernel is mirrored too: "same" on the mirrored map pads what was the top/left. A
    padding without either form leaves the layer in float (None).

    Example:
        >>> x = tf.keras.Input((8, 8, 2))
        >>> pad = Pad(1)
        >>> conv = lq.layers.QuantConv2D(4, 3, strides=2, input_quantizer="bnext_sign",
        ...                              kernel_quantizer="ste_sign")
        >>> _ = conv(pad(x))
        >>> found = lce_rewrite(conv, np.ones((3, 3, 2, 4), np.float32))
        >>> found.layer.mirror, found.absorbed == (pad,)
        (True, True)
    """
    if type(layer) is not lq.layers.QuantConv2D or layer.dilation_rate != (1, 1):
        return None
    pad = inbound_layer(layer)
    if not isinstance(pad, Pad):
        if layer.padding != "valid":
            return None
        # Unpadded (BNext's 1×1 modules): only the sign changes.
        return Rewrite(SignConv(layer.filters, layer.kernel_size, layer.strides,
                                name=layer.name), {"kernel": kernel})
    if pad.value != 0.0 or len(pad._outbound_nodes) != 1 or layer.padding != "valid":
        return None
    modes = {same_mode(size, k, s, pad.pad) for size, k, s in
             zip(pad.input_shape[1:3], layer.kernel_size, layer.strides, strict=True)}
    if len(modes) != 1 or None in modes:
        return None  # its zero padding has no "same" form: the layer stays float
    mirror = modes.pop() == "mirror"
    return Rewrite(SignConv(layer.filters, layer.kernel_size, layer.strides, padding="same",
                            mirror=mirror, name=layer.name),
                   {"kernel": kernel[::-1, ::-1] if mirror else kernel}, absorbed=(pad,))


@register("bnext_sign", roles=("activation",), kind="sign", export="rewrite",
          rewrite=lce_rewrite)
class BNextSign(lq.quantizers.Quantizer):
    """sign(x) with sign(0) = 0; gradient 1 where |x| <= ``clip_value`` (1.5), else 0.

    Example:
        >>> import tensorflow as tf
        >>> x = tf.constant([-2.0, 0.0, 0.3, 1.5])
        >>> with tf.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = BNextSign()(x)
        >>> y.numpy()
        array([-1.,  0.,  1.,  1.], dtype=float32)
        >>> tape.gradient(y, x).numpy()
        array([0., 1., 1., 1.], dtype=float32)
    """

    precision = 1

    def __init__(self, clip_value: float = 1.5, **kwargs):
        self.clip_value = float(clip_value)
        super().__init__(**kwargs)

    def call(self, inputs):
        clip = self.clip_value

        @tf.custom_gradient
        def sign(x):
            def grad(dy):
                return dy * tf.cast(tf.abs(x) <= clip, dy.dtype)

            return tf.sign(x), grad

        return sign(inputs)

    def get_config(self) -> dict:
        return {**super().get_config(), "clip_value": self.clip_value}


@register("bnext_weight", roles=("kernel",), kind="sign")
class BNextWeight(lq.quantizers.Quantizer):
    """Progressive weight binarizer: clip(w/T, −1, 1), sign(w) once T < ``cutoff``.

    ``temperature`` starts at 1; ``on_epochs_done`` sets it to 0.9^epochs done.

    Example:
        >>> import tensorflow as tf
        >>> q = BNextWeight(cutoff=1e-7)
        >>> w = tf.Variable([0.2, -0.5, 2.0])
        >>> q(w).numpy()  # T = 1
        array([ 0.2, -0.5,  1. ], dtype=float32)
        >>> _ = q.temperature.assign(0.5)
        >>> q(w).numpy()
        array([ 0.4, -1. ,  1. ], dtype=float32)
        >>> _ = q.temperature.assign(1e-8)  # below the cutoff: exactly sign(w)
        >>> with tf.GradientTape() as tape:
        ...     binary = q(w)
        >>> binary.numpy()
        array([ 1., -1.,  1.], dtype=float32)
        >>> tape.gradient(binary, w).numpy()  # identity, even where |w| > 1
        array([1., 1., 1.], dtype=float32)
    """

    precision = 1

    def __init__(self, cutoff: float = 1e-7, **kwargs):
        self.cutoff = float(cutoff)
        super().__init__(**kwargs)

    def build(self, input_shape):
        self.temperature = self.add_weight(
            "temperature", (), initializer="ones", trainable=False,
            aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
        )
        super().build(input_shape)

    def on_epochs_done(self, epochs_done: int, epochs: int) -> None:
        """Set the temperature after ``epochs_done`` of ``epochs`` epochs: 0.9^epochs_done.

        Example:
            >>> q = BNextWeight()
            >>> q.build((3,))
            >>> q.on_epochs_done(2, 512)
            >>> round(float(q.temperature), 6)
            0.81
        """
        if not self.built:
            return  # a quantizer of no layer yet has no temperature to set
        self.temperature.assign(DECAY ** epochs_done)

    def call(self, inputs):
        t = self.temperature
        soft = tf.clip_by_value(inputs / tf.maximum(t, 1e-8), -1.0, 1.0)
        hard = tf.where(inputs >= 0, 1.0, -1.0)
        binary = tf.where(t < self.cutoff, hard, soft)
        # Identity straight-through gradient, as the official code's
        # ``w_b.detach() - w.detach() + w``.
        return inputs + tf.stop_gradient(binary - inputs)

    def get_config(self) -> dict:
        return {**super().get_config(), "cutoff": self.cutoff}
