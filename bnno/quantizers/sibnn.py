"""Si-BNN's activation binarizer: sparse {0, 1} outputs with trainable thresholds.

Wang et al., "Sparsity-Inducing Binarized Neural Networks" (AAAI 2020). With
``y = (x − θ) / Δ`` per channel, the forward pass is ``1 if y > 0 else 0``; the backward
pass lets the gradient through, scaled by 1/Δ, only inside the asymmetric window
``−ρ < y < 1``. θ (init 0) and 1/Δ (init 1) are trainable per channel; ρ is fixed.

larq has a {0, 1} quantizer (``SteHeaviside``), but with a symmetric window and no
trainable threshold or scale, so this one is written here. As in the official code, the
trainable pair is stored as θ and 1/Δ (``inv_delta``), and ``y`` is computed with
ordinary ops so θ and 1/Δ get their gradients by autodiff: ``∂L/∂θ = −g/Δ`` and
``∂L/∂(1/Δ) = (x − θ)·g`` inside the window. Where the official code outputs 0.5 at
``y == 0`` exactly (PyTorch's sign(0) = 0), this follows the paper: 0.

The layer also keeps the fraction of zeros it produced as a metric (``sparsity``), so
runs log each layer's activation sparsity per epoch.

Example:
    >>> import larq as lq
    >>> layer = lq.layers.QuantConv2D(2, 3, input_quantizer=SiBnn(rho=0.3),
    ...                               kernel_quantizer="ste_sign", kernel_constraint="weight_clip")
    >>> layer(tf.zeros((1, 4, 4, 3))).shape
    TensorShape([1, 2, 2, 2])
    >>> [v.shape.as_list() for v in layer.input_quantizer.trainable_weights]
    [[3], [3]]
"""

from __future__ import annotations

import larq as lq
import tensorflow as tf

from bnno.quantizers.registry import register

SPARSITY = "sparsity"


def _window_step(rho: float):
    @tf.custom_gradient
    def step(y):
        def grad(dy):
            return dy * tf.cast((y > -rho) & (y < 1.0), dy.dtype)

        return tf.cast(y > 0, y.dtype), grad

    return step


@register("sibnn", roles=("activation",))
class SiBnn(lq.quantizers.Quantizer):
    """Sparse {0, 1} activation binarizer with per-channel trainable θ and 1/Δ.

    ``precision = 1``: larq counts the MACs of a layer with this input and binary
    weights as binary operations, which they are (the README's Si-BNN section).

    Example:
        >>> q = SiBnn(rho=0.3)
        >>> q(tf.constant([[-1.0, 0.0, 0.5]])).numpy()
        array([[0., 0., 1.]], dtype=float32)
        >>> round(float(q.sparsity.result()), 4)  # two zeros out of three
        0.6667

    Args:
        rho: width of the gradient window below the threshold, in units of Δ.
        sparsity: keep the fraction of zeros as a metric named ``sparsity/<name>``.
    """

    precision = 1

    def __init__(self, rho: float = 0.3, sparsity: bool = True, **kwargs):
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"rho must be between 0 and 1, got {rho}")
        self.rho = float(rho)
        self.track_sparsity = sparsity
        super().__init__(**kwargs)

    def build(self, input_shape):
        channels = int(input_shape[-1])
        # No regularizer, and no ``precision`` attribute: Bop never claims these, and the
        # L2 term of ``bnno.optimizers.l2`` skips quantizer variables.
        self.theta = self.add_weight("theta", (channels,), initializer="zeros")
        self.inv_delta = self.add_weight("inv_delta", (channels,), initializer="ones")
        if self.track_sparsity:
            self.sparsity = tf.keras.metrics.Mean(name=f"{SPARSITY}/{self.name}")
        super().build(input_shape)

    def call(self, inputs):
        y = (inputs - self.theta) * self.inv_delta
        outputs = _window_step(self.rho)(y)
        if self.track_sparsity:
            self.add_metric(self.sparsity(1.0 - tf.reduce_mean(outputs)))
        return outputs

    def get_config(self) -> dict:
        return {**super().get_config(), "rho": self.rho, "sparsity": self.track_sparsity}


def quantizers(model) -> list[SiBnn]:
    """Every ``SiBnn`` quantizer inside ``model``.

    Example:
        >>> import larq as lq
        >>> x = tf.keras.Input((4, 4, 3))
        >>> y = lq.layers.QuantConv2D(2, 3, input_quantizer=SiBnn(), kernel_quantizer="ste_sign",
        ...                           kernel_constraint="weight_clip")(x)
        >>> [type(q).__name__ for q in quantizers(tf.keras.Model(x, y))]
        ['SiBnn']
    """
    return [m for m in model.submodules if isinstance(m, SiBnn)]


def thresholds(model) -> list:
    """The θ and 1/Δ variables of ``model`` (trained by Adam, never decayed).

    Example:
        >>> import larq as lq
        >>> x = tf.keras.Input((4, 4, 3))
        >>> y = lq.layers.QuantConv2D(2, 3, input_quantizer=SiBnn(), kernel_quantizer="ste_sign",
        ...                           kernel_constraint="weight_clip")(x)
        >>> [v.name.split("/")[-1] for v in thresholds(tf.keras.Model(x, y))]
        ['theta:0', 'inv_delta:0']
    """
    return [v for q in quantizers(model) for v in q.trainable_weights]
