"""A trained Keras model rewritten for inference, in the form LCE converts best.

* every binary kernel is replaced by its binarized value (Bop kernels already hold ±1;
  latent-weight kernels are passed through their own trained quantizer, with its state
  such as a temperature), so the converter sees constant ±1 (or ±α per output channel)
  filters and emits ``LceBconv2d``;
* quantizer metrics (the flip ratios, a quantizer's own), which keep mutable state, are
  dropped;
* binary layers whose input quantizer LCE cannot bit-pack as trained are rewritten by
  that quantizer's ``rewrite`` hook (``bnno.quantizers.registry``) into the equivalent
  layers on larq's sign (``bnno.layers.sign_conv``), with the layers before them that the
  rewrite makes redundant (a padding it moves into the convolution) replaced by the
  identity;
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

from bnno.errors import BnnoError
from bnno.layers.padding import Pad
from bnno.quantizers.registry import entry_of


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
    kernels = {layer.name: _binarized(layer) for layer in model.layers
               if getattr(layer, "kernel_quantizer", None) is not None
               and hasattr(layer, "kernel")}
    rewrites = _rewrites(model, kernels)
    absorbed = {old.name for found in rewrites.values() for old in found.absorbed}

    def clone(layer):
        if layer.name in absorbed:
            # The rewritten layer after it does its work itself (see ``_rewrites``).
            return tf.keras.layers.Activation("linear", name=layer.name)
        trimmed = trimmed_pad(layer)
        if trimmed is not None:
            return trimmed
        if layer.name in rewrites:
            return rewrites[layer.name].layer
        if layer.name not in kernels:
            return layer.__class__.from_config(layer.get_config())
        config = layer.get_config()
        kernel = kernels[layer.name]
        quantizer = layer.kernel_quantizer
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
        if old.name in rewrites:
            new.set_values(**rewrites[old.name].values)
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


def _binarized(layer) -> np.ndarray:
    """The kernel of ``layer`` through its own trained quantizer, checked to be ±α per
    output channel when the quantizer is binary."""
    quantizer = layer.kernel_quantizer
    kernel = np.asarray(quantizer(tf.convert_to_tensor(layer.kernel)))
    if _precision(quantizer) == 1:
        _check_binary(layer.name, kernel)
    return kernel


def _rewrites(model: tf.keras.Model, kernels: dict[str, np.ndarray]) -> dict[str, Any]:
    """The ``Rewrite`` of every binary layer whose input quantizer has a rewrite hook and
    a form for that layer, by layer name."""
    found = {}
    for layer in model.layers:
        entry = entry_of(getattr(layer, "input_quantizer", None))
        if entry is None or entry.rewrite is None or not is_binary_layer(layer):
            continue
        rewrite = entry.rewrite(layer, kernels[layer.name])
        if rewrite is not None:
            found[layer.name] = rewrite
    return found


def expected_binary(layer) -> bool:
    """Whether export must find ``layer`` as an ``LceBconv2d``: a binary layer none of
    whose quantizers declares ``export="float"`` (``bnno.quantizers.registry``).

    Example:
        >>> expected_binary(lq.layers.QuantConv2D(4, 3, input_quantizer="ste_sign",
        ...                                       kernel_quantizer="ste_sign"))
        True
        >>> expected_binary(lq.layers.QuantConv2D(4, 3, input_quantizer="ste_heaviside",
        ...                                       kernel_quantizer="ste_sign"))
        False
    """
    if not is_binary_layer(layer):
        return False
    entries = [entry_of(getattr(layer, role)) for role in ("input_quantizer", "kernel_quantizer")]
    return not any(entry is not None and entry.export == "float" for entry in entries)


def is_binary_layer(layer) -> bool:
    """Whether ``layer`` is a convolution or dense layer with binary inputs and kernel,
    the layers LCE should run as ``LceBconv2d``.

    Example:
        >>> is_binary_layer(lq.layers.QuantConv2D(4, 3, input_quantizer="ste_sign",
        ...                                       kernel_quantizer="ste_sign"))
        True
        >>> is_binary_layer(lq.layers.QuantConv2D(4, 3, kernel_quantizer="ste_sign"))
        False
    """
    return (isinstance(layer, (lq.layers.QuantConv2D, lq.layers.QuantDense))
            and _precision(getattr(layer, "input_quantizer", None)) == 1
            and _precision(getattr(layer, "kernel_quantizer", None)) == 1)


def trimmed_pad(pad) -> tf.keras.layers.ZeroPadding2D | None:
    """The zero padding that replaces ``pad`` before a float "valid" convolution: the
    same rows and columns, less those below and right of the last window.

    LCE's converter fuses a padding and the convolution after it into a "same"
    convolution when the padding is split as TF's "same" splits it, without checking its
    total against TF's (larq/compute-engine ``mlir/transforms/fuse_padding.cc`` and
    ``padding.h``, ``IsSamePadding1D``). PyTorch's symmetric padding at stride 2 on an
    even size passes that test (3 + 3 before a 7×7/2 convolution of a 32×32 map, where
    "same" pads 2 + 3), and the converted stem then computes other windows. Trimmed to
    the rows it uses (3 + 2), the padding no longer looks like "same" and stays a
    padding; where the trimmed padding is TF's "same", fusing it is right.

    Example:
        >>> x = tf.keras.Input((32, 32, 3))
        >>> pad = Pad(3)
        >>> _ = tf.keras.layers.Conv2D(8, 7, strides=2)(pad(x))
        >>> trimmed_pad(pad).padding
        ((3, 2), (3, 2))
    """
    if not isinstance(pad, Pad) or pad.value != 0.0 or len(pad._outbound_nodes) != 1:
        return None
    conv = pad._outbound_nodes[0].outbound_layer
    if not (isinstance(conv, tf.keras.layers.Conv2D) and conv.padding == "valid"
            and getattr(conv, "input_quantizer", None) is None
            and conv.dilation_rate == (1, 1)):
        return None
    after = []
    for size, k, s in zip(pad.input_shape[1:3], conv.kernel_size, conv.strides, strict=True):
        out = (size + 2 * pad.pad - k) // s + 1
        after.append((out - 1) * s + k - size - pad.pad)
    if min(after) < 0 or after == [pad.pad, pad.pad]:
        return None
    return tf.keras.layers.ZeroPadding2D(((pad.pad, after[0]), (pad.pad, after[1])),
                                         name=pad.name)


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
    # A quantizer's metrics (larq's flip ratio, the ones its metric options turn on)
    # hold variables that change on every call; LCE refuses mutable state, and inference
    # does not need it.
    if not isinstance(config, dict):
        return config
    inner = {k: v for k, v in config.get("config", {}).items() if k != "metrics"}
    entry = entry_of(config)
    for option in entry.metric_options if entry else ():
        inner[option] = False
    return {**config, "config": inner}


def _check_binary(name: str, kernel: np.ndarray) -> None:
    # LCE runs a kernel as binary if it is ±α with one α per output channel.
    magnitude = np.abs(kernel.reshape(-1, kernel.shape[-1]))
    if not np.all(magnitude == magnitude[:1]) or np.any(magnitude == 0):
        raise BnnoError(
            f"layer '{name}' is tagged binary but its kernel is not ±α per output channel; "
            "LCE cannot run it as a binary layer"
        )
