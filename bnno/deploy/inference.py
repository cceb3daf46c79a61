"""A trained Keras model rewritten for inference, in the form LCE converts best.

* every binary kernel is replaced by its binarized value (Bop kernels already hold ±1;
  latent-weight kernels are passed through their own trained quantizer, with its state
  such as BNext's temperature), so the converter sees
  constant ±1 (or ±α per output channel) filters and emits ``LceBconv2d``;
* quantizer metrics (the flip ratios), which keep mutable state, are dropped;
* binary convolutions whose inputs LCE cannot bit-pack as trained (BNext's sign with
  zero padding, Si-BNN's {0, 1} activations) become the equivalent convolutions on
  larq's sign (``bnno.deploy.sign_conv``);
* a symmetric zero padding before a float convolution loses the rows no window reads,
  which keeps LCE's converter from mistaking it for TF's "same" (``trimmed_pad``);
* a binary ``QuantDense`` on binarized inputs becomes the equivalent 1×1 binary
  convolution, because LCE packs and runs binary convolutions but not binary dense layers
  (which it would keep as float32 matrices);
* a batch norm that follows a max pool moves before it when that gives the same
  function (positive scale): LCE's converter folds batch norm into the binary
  convolution's output multiplier and bias only where it directly follows one.
"""

from __future__ import annotations

from typing import Any

import larq as lq
import numpy as np
import tensorflow as tf

from bnno.deploy.sign_conv import padded_zero_sign_conv, rewrite, trimmed_pad
from bnno.errors import BnnoError


def inference_model(model: tf.keras.Model) -> tf.keras.Model:
    """A copy of ``model`` ready for LCE: binarized constant kernels, no quantizer state.

    The copy computes the same function as ``model`` at inference time.

    Example:
        >>> trained = tf.keras.Sequential([tf.keras.Input((4, 4, 1)), lq.layers.QuantConv2D(
        ...     2, 3, kernel_quantizer="ste_sign", kernel_constraint="weight_clip")])
        >>> net = inference_model(trained)
        >>> sorted(np.unique(net.layers[0].kernel.numpy()))
        [-1.0, 1.0]
        >>> x = tf.random.stateless_normal((1, 4, 4, 1), seed=(0, 1))
        >>> np.allclose(net(x), trained(x))
        True
    """
    replaced: dict[str, tuple[Any, np.ndarray | None]] = {}
    rewritten: dict[str, dict[str, np.ndarray]] = {}

    def clone(layer):
        if padded_zero_sign_conv(layer):
            # The convolution after it pads its binary input itself (see ``sign_conv``).
            return tf.keras.layers.Activation("linear", name=layer.name)
        trimmed = trimmed_pad(layer)
        if trimmed is not None:
            return trimmed
        quantizer = getattr(layer, "kernel_quantizer", None)
        if quantizer is None or not hasattr(layer, "kernel"):
            return layer.__class__.from_config(layer.get_config())
        config = layer.get_config()
        kernel = np.asarray(quantizer(tf.convert_to_tensor(layer.kernel)))
        if _precision(quantizer) == 1:
            _check_binary(layer.name, kernel)
        swap = rewrite(layer, kernel)
        if swap:
            rewritten[layer.name] = swap[1]
            return swap[0]
        config.update(kernel_quantizer=None, kernel_constraint=None,
                      input_quantizer=_without_metrics(config.get("input_quantizer")))
        replaced[layer.name] = (layer, kernel)
        if (isinstance(layer, lq.layers.QuantDense) and len(layer.input_shape) == 2
                and _precision(layer.input_quantizer) == 1 and _precision(quantizer) == 1):
            return BinaryDenseAsConv(**config)
        return layer.__class__.from_config(config)

    copy = tf.keras.models.clone_model(model, clone_function=clone)
    for old in model.layers:
        new = copy.get_layer(old.name)
        if old.name in rewritten:
            new.set_values(**rewritten[old.name])
            continue
        variables = old.weights
        if old.name in replaced:
            # The copy has no kernel quantizer, so none of its state (a temperature).
            own = {id(v) for v in old.kernel_quantizer.weights}
            variables = [v for v in variables if id(v) not in own]
        weights = [v.numpy() for v in variables]
        if old.name in replaced:
            index = next(i for i, v in enumerate(variables) if v is old.kernel)
            weights[index] = replaced[old.name][1].reshape(new.get_weights()[index].shape)
        new.set_weights(weights)
    return _norm_before_pool(copy)


def _norm_before_pool(model: tf.keras.Model) -> tf.keras.Model:
    """Swap max pooling and the batch norm after it, where that changes nothing.

    Batch norm with a positive scale on every channel is an increasing map per channel,
    so it commutes with max pooling. Placed right after the convolution, LCE folds it
    into the binary convolution, which can then write bit-packed output for a binary max
    pool. Only Sequential models are rearranged.
    """
    if not isinstance(model, tf.keras.Sequential):
        return model
    layers = list(model.layers)
    for i in range(1, len(layers) - 1):
        pool, norm = layers[i], layers[i + 1]
        if (isinstance(pool, tf.keras.layers.MaxPool2D)
                and isinstance(norm, tf.keras.layers.BatchNormalization)
                and norm.axis in ([3], [-1]) and _positive_scale(norm)):
            layers[i], layers[i + 1] = norm, pool
    if layers == list(model.layers):
        return model
    return tf.keras.Sequential([tf.keras.Input(model.input_shape[1:]), *layers],
                               name=model.name)


def _positive_scale(norm) -> bool:
    gamma = norm.gamma.numpy() if norm.scale else 1.0
    return bool(np.all(gamma / np.sqrt(norm.moving_variance.numpy() + norm.epsilon) > 0))


class BinaryDenseAsConv(tf.keras.layers.Layer):
    """A binary dense layer computed as a 1×1 binary convolution, which LCE bit-packs.

    Takes the keyword arguments of ``lq.layers.QuantDense`` (its ``get_config()``).

    Example:
        >>> layer = BinaryDenseAsConv(units=64, input_quantizer="ste_sign")
        >>> layer(tf.ones((2, 128))).shape
        TensorShape([2, 64])
    """

    def __init__(self, units: int, input_quantizer=None, use_bias: bool = True,
                 activation=None, name: str | None = None, **_ignored):
        super().__init__(name=name)
        self.units = units
        self.conv = lq.layers.QuantConv2D(
            units, 1, input_quantizer=input_quantizer, use_bias=use_bias,
            activation=activation, name="conv",
        )

    def call(self, inputs):
        features = inputs.shape[-1]
        outputs = self.conv(tf.reshape(inputs, [-1, 1, 1, features]))
        return tf.reshape(outputs, [-1, self.units])


def _precision(quantizer) -> int | None:
    if quantizer is None:
        return None
    if isinstance(quantizer, (str, dict)):
        quantizer = lq.quantizers.get(_without_metrics(quantizer))
    return getattr(quantizer, "precision", None)


def _without_metrics(config):
    # A quantizer's flip-ratio (or Si-BNN's sparsity) metric holds variables that change
    # on every call; LCE refuses mutable state, and inference does not need it.
    if isinstance(config, dict) and "metrics" in config.get("config", {}):
        config = {**config, "config": {k: v for k, v in config["config"].items()
                                       if k != "metrics"}}
    if isinstance(config, dict) and config.get("config", {}).get("sparsity"):
        config = {**config, "config": {**config["config"], "sparsity": False}}
    return config


def _check_binary(name: str, kernel: np.ndarray) -> None:
    # LCE runs a kernel as binary if it is ±α with one α per output channel.
    magnitude = np.abs(kernel.reshape(-1, kernel.shape[-1]))
    if not np.all(magnitude == magnitude[:1]) or np.any(magnitude == 0):
        raise BnnoError(
            f"layer '{name}' is tagged binary but its kernel is not ±α per output channel; "
            "LCE cannot run it as a binary layer"
        )
