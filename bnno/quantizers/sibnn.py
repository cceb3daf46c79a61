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

from typing import Annotated

import larq as lq
import numpy as np
import tensorflow as tf

from bnno.htypes import between
from bnno.layers.padding import same_mode
from bnno.layers.sign_conv import Rewrite, SignConv
from bnno.quantizers.registry import register

SPARSITY = "sparsity"


def _window_step(rho: float):
    @tf.custom_gradient
    def step(y):
        def grad(dy):
            return dy * tf.cast((y > -rho) & (y < 1.0), dy.dtype)

        return tf.cast(y > 0, y.dtype), grad

    return step


def lce_rewrite(layer, kernel: np.ndarray) -> Rewrite | None:
    """The LCE form of a binary layer on ``sibnn`` inputs (its ``rewrite`` hook, see
    ``bnno.layers.sign_conv``).

    Si-BNN feeds {0, 1} activations ``a = [(x − θ)·(1/Δ) > 0]``. With ``s = 2a − 1``,
    ``K·a = ½·K·s + ½·ΣK``: the rewrite computes ``u = (θ − x)·(1/Δ) = −y``, whose larq
    sign is ``−s`` exactly (sign(0) = +1 gives ``s = −1`` at ``y = 0``, as the {0, 1}
    binarizer's 0), runs the kernel ``−K/2`` on it and adds the per-channel constant
    ``½·ΣK`` as the bias, which LCE folds into the convolution's output transform together
    with the batch norm after it. The kernel's per-channel scale α runs after the
    convolution (LCE fuses it), so a ±1 kernel stays binary however small α is. The
    binarizer zero-pads ``a`` (``s = −1``, sign +1 of ``u``): TF's "same" with ones where
    that is the padding, else ``u`` is padded with +1 explicitly before the sign and the
    convolution runs "valid", so every border stays exact. None for a layer that has no
    such form (a kernel that is not ±α per channel, a bias, dilation).

    Example:
        >>> x = tf.keras.Input((6, 6, 2))
        >>> dense = lq.layers.QuantDense(3, input_quantizer="sibnn",
        ...                              kernel_quantizer="ste_sign")
        >>> _ = dense(tf.keras.layers.Flatten()(x))
        >>> found = lce_rewrite(dense, np.ones((72, 3)))
        >>> type(found.layer).__name__, found.values["bias"].tolist()  # ½·ΣK per output
        ('SignConv', [36.0, 36.0, 36.0])
    """
    flat = kernel.reshape(-1, kernel.shape[-1])
    scale = np.abs(flat).max(0)
    signs = np.where(kernel < 0, -1.0, 1.0).astype(kernel.dtype)
    if not np.array_equal(signs * scale, kernel):
        return None  # not a scaled sign per channel
    values = {"bias": 0.5 * flat.sum(0), "scale": scale,
              "theta": layer.input_quantizer.theta.numpy(),
              "inv_delta": layer.input_quantizer.inv_delta.numpy()}
    common = dict(threshold=True, use_bias=True, scaled=True, name=layer.name)
    if isinstance(layer, lq.layers.QuantDense):
        if len(layer.input_shape) != 2:
            return None
        return Rewrite(SignConv(layer.units, 1, **common),
                       {**values, "kernel": -0.5 * signs.reshape(1, 1, *kernel.shape)})
    if layer.use_bias or layer.dilation_rate != (1, 1) or layer.pad_values != 0.0:
        return None
    values["kernel"] = -0.5 * signs
    if layer.padding == "valid":
        return Rewrite(SignConv(layer.filters, layer.kernel_size, layer.strides, **common),
                       values)
    symmetric = layer._is_native_padding is False  # PyTorch's padding (PaddedQuantConv2D)
    modes = {same_mode(size, k, s, k // 2) for size, k, s in
             zip(layer.input_shape[1:3], layer.kernel_size, layer.strides, strict=True)}
    if not symmetric or modes == {"same"}:
        # TF's "same" with ones: LCE's one-padding, in the convolution itself.
        return Rewrite(SignConv(layer.filters, layer.kernel_size, layer.strides,
                                padding="same", pad_values=1.0, **common), values)
    k = layer.kernel_size
    if k[0] != k[1]:
        return None
    return Rewrite(SignConv(layer.filters, k, layer.strides, explicit_pad=k[0] // 2,
                            **common), values)


@register("sibnn", roles=("activation",), kind="other", export="rewrite", rewrite=lce_rewrite,
          metric_options=("sparsity",))
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

    def __init__(self, rho: Annotated[float, between(0, 1)] = 0.3, sparsity: bool = True,
                 **kwargs):
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
