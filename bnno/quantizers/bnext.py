"""BNext's binarizers as larq quantizers (Guo et al., 2023; the official PyTorch code).

``BNextSign`` (hparam name ``bnext_sign``) binarizes activations: PyTorch's sign in the
forward pass (sign(0) = 0, so a zero-padded border stays 0 after binarization, as in
the official code), straight-through gradient 1 where |x| <= 1.5. larq's
``SteSign(clip_value=1.5)`` has the same gradient but maps 0 to +1, which would turn
padding into +1 (see ``bnno.models.bnext``), hence this class. Export rewrites its
layers into LCE's form with larq's sign (``bnno.layers.zero_sign``).

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
import tensorflow as tf

from bnno.layers.zero_sign import zero_sign_rewrite
from bnno.quantizers.registry import register

# The temperature's factor per epoch.
DECAY = 0.9


@register("bnext_sign", roles=("activation",), kind="sign", export="rewrite",
          rewrite=zero_sign_rewrite)
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

    ``temperature`` starts at 1; ``on_epochs_done`` sets it to 0.9^epochs done. The sign
    is PyTorch's, as the official ``real_weights.sign()``: an exact 0 weight binarizes to
    0 (at every temperature, as 0/T is 0). LCE stores one bit per binary weight, so
    ``bnno export`` writes +1 for such a weight (larq's and LCE's sign(0);
    ``bnno.deploy.inference``), which changes the exported function only where a latent
    weight is exactly 0.

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
        >>> q(tf.constant([0.0, -0.0, 1e-30])).numpy()  # PyTorch's sign: sign(0) = 0
        array([0., 0., 1.], dtype=float32)
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
        hard = tf.sign(inputs)  # sign(0) = 0, as torch.sign
        binary = tf.where(t < self.cutoff, hard, soft)
        # Identity straight-through gradient, as the official code's
        # ``w_b.detach() - w.detach() + w``.
        return inputs + tf.stop_gradient(binary - inputs)

    def get_config(self) -> dict:
        return {**super().get_config(), "cutoff": self.cutoff}
