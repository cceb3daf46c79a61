"""Per-layer learning-rate scaling of latent binary kernels ("Xavier" scaling).

Courbariaux et al.'s BinaryConnect/BinaryNet code (``W_LR_scale = "Glorot"``) multiplies
the Adam step of every binary layer's latent kernel by ``1/H`` with
``H = sqrt(1.5 / (fan_in + fan_out))``, Glorot's uniform bound: a convolution counts
``fan_in = kernel area × input channels`` and ``fan_out = kernel area × output
channels``, a dense layer its inputs and units. Their code writes it as
``w + scale·(adam(w) − w)`` followed by the clip, which is Adam with the learning rate
times ``scale`` for that kernel; Adam's moments are untouched. Their clip is to ±H of
the layer, with H = 1 in their CIFAR-10 script: larq's ``weight_clip``. Batch norm, biases and
kernels without a quantizer take the plain step. The Bop paper's §5.2 Adam baseline
trains with this scaling.

Here the binary layers are those with a ``kernel`` and a ``kernel_quantizer`` (larq's
``Quant*`` layers); the fans are read from the kernel's shape, ``(kh, kw, c_in, c_out)``
or ``(inputs, units)``. The factors are derived from shapes, so ``ScaledAdam`` keeps
exactly legacy Adam's state and checkpoints; ``kernel_constraint`` (``weight_clip``)
still applies after the scaled step.

Example:
    >>> xavier_factor((3, 3, 128, 256))  # sqrt((1152 + 2304) / 1.5)
    48.0
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from bnno.errors import BnnoError
from bnno.optimizers.keras.legacy_adam import Adam, variable_key


def xavier_factor(shape: Sequence[int]) -> float:
    """``1 / sqrt(1.5 / (fan_in + fan_out))`` for a kernel of ``shape``.

    The last two dimensions are input and output channels (units); the ones before them
    are the kernel's area.

    Example:
        >>> round(xavier_factor((1024, 10)), 4)  # a dense layer: 1024 inputs, 10 units
        26.2552
    """
    *area, fan_in, fan_out = (int(d) for d in shape)
    receptive = math.prod(area)
    return 1.0 / math.sqrt(1.5 / (receptive * fan_in + receptive * fan_out))


# The factor of a kernel from its shape, per ``lr_scaling`` value ("none" has no rule).
RULES: dict[str, Callable[[Sequence[int]], float]] = {"xavier": xavier_factor}


def quantized_kernels(model) -> list:
    """The kernels of ``model``'s layers that have a ``kernel_quantizer``.

    Example:
        >>> import larq as lq
        >>> import tensorflow as tf
        >>> model = tf.keras.Sequential([
        ...     lq.layers.QuantDense(4, kernel_quantizer="ste_sign", input_shape=(3,)),
        ...     lq.layers.QuantDense(2)])  # no quantizer: a real-valued layer
        >>> [k.shape.as_list() for k in quantized_kernels(model)]
        [[3, 4]]
    """
    return [layer.kernel for layer in model.submodules
            if getattr(layer, "kernel_quantizer", None) is not None
            and getattr(layer, "kernel", None) is not None]


def kernel_factors(model, rule: str = "xavier") -> list[tuple[Any, float]]:
    """``(kernel, factor)`` for every quantized kernel of ``model`` under ``rule``.

    Example:
        >>> import larq as lq
        >>> import tensorflow as tf
        >>> model = tf.keras.Sequential([lq.layers.QuantConv2D(
        ...     128, 3, kernel_quantizer="ste_sign", input_shape=(8, 8, 3))])
        >>> [round(f, 2) for _, f in kernel_factors(model)]  # sqrt((27 + 1152) / 1.5)
        [28.04]
    """
    return [(k, RULES[rule](k.shape)) for k in quantized_kernels(model)]


class ScaledAdam(Adam):
    """Legacy Adam whose step of each quantized kernel is multiplied by its factor.

    ``assign_groups(model)`` must be called once before the first step
    (``bnno.training.build.compile_model`` does); every other variable takes Adam's plain step.

    Example:
        >>> import larq as lq
        >>> import tensorflow as tf
        >>> model = tf.keras.Sequential([
        ...     lq.layers.QuantDense(10, kernel_quantizer="ste_sign", input_shape=(1024,))])
        >>> opt = ScaledAdam(1e-3, lr_scaling="xavier")
        >>> opt.assign_groups(model)
        >>> [round(opt.factor_of(v), 4) for v in model.trainable_variables]  # kernel, bias
        [26.2552, 1.0]
    """

    def __init__(self, learning_rate=1e-3, lr_scaling: str = "xavier", name: str = "Adam",
                 **kwargs):
        # Named "Adam" so that a scaled run's checkpoints look like a plain Adam run's.
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        if lr_scaling not in RULES:
            raise BnnoError(f"unknown lr_scaling '{lr_scaling}'; use {', '.join(RULES)}")
        self.lr_scaling = lr_scaling
        self._factors: dict[str, float] | None = None

    def assign_groups(self, model) -> None:
        """Give every quantized kernel of ``model`` its factor.

        Example:
            ``opt.assign_groups(model)`` before ``model.compile(optimizer=opt)``.
        """
        self._factors = {variable_key(k): f for k, f in kernel_factors(model, self.lr_scaling)}

    def factor_of(self, var) -> float:
        """The factor ``var``'s step is multiplied by (1 for all but quantized kernels).

        Example:
            ``opt.factor_of(model.layers[0].kernel)`` is 28.04 for a 3×3 convolution
            from 3 to 128 channels, ``opt.factor_of(bias)`` 1.0.
        """
        if self._factors is None:
            raise RuntimeError("ScaledAdam.assign_groups(model) was not called")
        return self._factors.get(variable_key(var), 1.0)

    def _scaled_state(self, var, apply_state):
        factor = self.factor_of(var)
        if factor == 1.0:
            return apply_state
        key = (var.device, var.dtype.base_dtype)
        coefficients = (apply_state or {}).get(key) or self._fallback_apply_state(*key)
        # "lr_t" feeds the fused dense kernel, "lr" (bias-corrected) the sparse path.
        scaled = {**coefficients, "lr_t": coefficients["lr_t"] * factor,
                  "lr": coefficients["lr"] * factor}
        return {**(apply_state or {}), key: scaled}

    def _resource_apply_dense(self, grad, var, apply_state=None):
        return super()._resource_apply_dense(grad, var, self._scaled_state(var, apply_state))

    def _resource_apply_sparse(self, grad, var, indices, apply_state=None):
        return super()._resource_apply_sparse(
            grad, var, indices, self._scaled_state(var, apply_state))

    def get_config(self) -> dict:
        return {**super().get_config(), "lr_scaling": self.lr_scaling}
