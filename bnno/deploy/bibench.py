"""Inference rewrites of BiBench's binarizers that LCE cannot bit-pack as trained.

Two of the BiBench quantizers (``bnno.quantizers.bibench_*``) give a binary layer inputs
that are not larq's sign, so LCE's converter keeps the layer in float; both have an exact
rewrite into a bit-packed ``LceBconv2d``:

* **XNOR** (``bibench_xnor_activation``) feeds ``α_x·sign(x)`` with one ``α_x = mean |x|``
  per sample. The convolution pads with zeros, so ``conv(α_x·sign(x), K) =
  α_x·conv(sign(x), K)``: ``XnorSampleScaleConv`` runs the binary convolution on larq's sign
  and multiplies its output by ``α_x`` (a float reduction and multiply), then adds the bias.
* **FDA** (``bibench_fda_activation``) adds ``α·noise`` to the sign; its schedule ends with
  α = 0 exactly, and from then on the input is larq's sign: the rewrite swaps the
  quantizer for ``ste_sign`` (same forward values). Its kernel quantizer is already
  folded into a constant ±mean|w| kernel by ``bnno.deploy.inference``, which refuses it while
  α ≠ 0. ``lce_ready`` refuses a model whose FDA noise is still on.

``lce_ready(model)`` is ``bnno.deploy.inference.inference_model`` followed by these
rewrites.

Example:
    >>> import larq as lq
    >>> x = tf.keras.Input((6, 6, 2))
    >>> y = lq.layers.QuantConv2D(3, 3, padding="same", input_quantizer="bibench_xnor_activation",
    ...                           kernel_quantizer="bibench_xnor_weight")(x)
    >>> trained = tf.keras.Model(x, y)
    >>> net = lce_ready(trained)
    >>> type(net.layers[1]).__name__
    'XnorSampleScaleConv'
    >>> images = tf.random.stateless_normal((2, 6, 6, 2), seed=(1, 2))
    >>> bool(np.allclose(net(images), trained(images), atol=1e-5))
    True
"""

from __future__ import annotations

import larq as lq
import numpy as np
import tensorflow as tf

from bnno.deploy.inference import inference_model
from bnno.errors import BnnoError
from bnno.quantizers.bibench_fda import BiBenchFdaActivation, _FdaQuantizer
from bnno.quantizers.bibench_xnor import BiBenchXnorActivation


@lq.utils.register_keras_custom_object
class XnorSampleScaleConv(tf.keras.layers.Layer):
    """``α_x·conv(sign(x), K) + b`` with ``α_x = mean |x|`` per sample: an XNOR layer whose
    binary convolution LCE bit-packs.

    Takes the keyword arguments of ``lq.layers.QuantConv2D`` (its ``get_config()``); the
    input quantizer is larq's ``ste_sign`` whatever the config says.

    Example:
        >>> layer = XnorSampleScaleConv(filters=4, kernel_size=3, padding="same")
        >>> layer(tf.ones((2, 5, 5, 3))).shape
        TensorShape([2, 5, 5, 4])
    """

    def __init__(self, filters: int, kernel_size, strides=1, padding: str = "valid",
                 pad_values: float = 0.0, dilation_rate=1, use_bias: bool = True,
                 name: str | None = None, **_ignored):
        super().__init__(name=name)
        self.use_bias = use_bias
        self.conv = lq.layers.QuantConv2D(
            filters, kernel_size, strides=strides, padding=padding, pad_values=pad_values,
            dilation_rate=dilation_rate, input_quantizer="ste_sign", use_bias=False,
            name="conv")

    def build(self, input_shape):
        self.conv.build(input_shape)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.conv.filters,), initializer="zeros")
        super().build(input_shape)

    def call(self, inputs):
        scale = tf.reduce_mean(tf.abs(inputs), axis=[1, 2, 3], keepdims=True)
        outputs = self.conv(inputs) * scale
        return outputs + self.bias if self.use_bias else outputs


def _check_noise_off(model: tf.keras.Model) -> None:
    for module in model.submodules:
        if isinstance(module, _FdaQuantizer) and module.noise_adapt and module.built \
                and float(module.noise_scale) != 0.0:
            raise BnnoError(f"FDA's noise is still on in '{module.name}' (α = "
                            f"{float(module.noise_scale):.3g}); it is 0 only after the last "
                            "epoch of its schedule")


def lce_ready(model: tf.keras.Model) -> tf.keras.Model:
    """The inference copy of ``model`` with BiBench's XNOR and FDA layers in bit-packable form.

    Raises:
        BnnoError: an FDA quantizer's noise is still on (α ≠ 0).

    Example:
        See the module docstring.
    """
    _check_noise_off(model)
    net = inference_model(model)
    weights: dict[str, list[np.ndarray]] = {}

    def clone(layer):
        quantizer = getattr(layer, "input_quantizer", None)
        if isinstance(quantizer, BiBenchXnorActivation):
            # XnorSampleScaleConv lists its own bias before its convolution's kernel.
            weights[layer.name] = ([layer.bias.numpy()] if layer.use_bias else []) + [
                layer.kernel.numpy()]
            return XnorSampleScaleConv(**layer.get_config())
        if isinstance(quantizer, BiBenchFdaActivation):
            weights[layer.name] = [w.numpy() for w in (layer.kernel, getattr(layer, "bias", None))
                                   if w is not None]
            return layer.__class__.from_config({**layer.get_config(),
                                                "input_quantizer": "ste_sign"})
        return layer.__class__.from_config(layer.get_config())

    copy = tf.keras.models.clone_model(net, clone_function=clone)
    for old in net.layers:
        new = copy.get_layer(old.name)
        new.set_weights(weights.get(old.name, old.get_weights()))
    return copy
