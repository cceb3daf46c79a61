"""Binary layers whose inputs LCE cannot bit-pack as trained, rewritten so that it can.

LCE's converter (larq/compute-engine, ``larq_compute_engine/mlir/transforms/
prepare_patterns_common.td`` and ``prepare_patterns_target_arm.td``) turns a convolution
into ``LceBconv2d`` only when its input is larq's sign (``lq.math.sign``: ±1, sign(0) =
+1), its filter is ±α per output channel, and its padding is "valid", TF's "same" with
zeros (the Arm target, the default) or TF's "same" with ones (``pad_values=1``). Two
kinds of bnno layers miss that:

* **BNext** binarizes with PyTorch's sign (sign(0) = 0, ``bnno.quantizers.bnext``) after
  zero-padding the real input (``bnno.models.bnext_layers``): TensorFlow's ``Sign`` op,
  which LCE does not recognise. Inside the image the two signs differ only on an exact
  0.0, so the rewrite uses larq's sign and lets the convolution zero-pad its binary
  input. Where PyTorch's symmetric padding differs from TF's "same" (stride 2 on an
  even size: TF pads the bottom/right only), the input and output are mirrored around
  the convolution, whose kernel is mirrored too: "same" on the mirrored map pads what
  was the top/left.
* **Si-BNN** feeds {0, 1} activations ``a = [(x − θ)·(1/Δ) > 0]``. With ``s = 2a − 1``,
  ``K·a = ½·K·s + ½·ΣK`` (``tests/models/test_sibnn.py``): the rewrite computes
  ``u = (θ − x)·(1/Δ) = −y``, whose larq sign is ``−s`` exactly (sign(0) = +1 gives
  ``s = −1`` at ``y = 0``, as the {0, 1} binarizer's 0), runs the kernel ``−K/2`` on it and
  adds the per-channel constant ``½·ΣK`` as the bias, which LCE folds into the
  convolution's output transform together with the batch norm after it. The binarizer
  zero-pads ``a`` (``s = −1``, sign +1 of ``u``): TF's "same" with ones where that is the
  padding, else ``u`` is padded with +1 explicitly before the sign and the convolution
  runs "valid", so every border stays exact.
"""

from __future__ import annotations

import math

import larq as lq
import numpy as np
import tensorflow as tf

from bnno.models.layers import Pad
from bnno.quantizers.bnext import BNextSign
from bnno.quantizers.sibnn import SiBnn


@lq.utils.register_keras_custom_object
class SignConv(tf.keras.layers.Layer):
    """A binary convolution on larq's sign of its input, in a form LCE bit-packs.

    ``threshold`` first maps the input ``x`` to ``(θ − x)·(1/Δ)`` per channel (Si-BNN's
    threshold, negated); ``explicit_pad`` pads that by as many pixels of +1 on every side;
    ``mirror`` reverses height and width before and after the convolution. The
    convolution itself is a ``QuantConv2D`` with larq's ``ste_sign`` input, ``padding``
    and ``pad_values``. A rank-2 input runs as a 1×1 convolution (a dense layer).

    Example:
        >>> layer = SignConv(4, 3, padding="same", mirror=True)
        >>> layer(tf.ones((1, 6, 6, 2))).shape
        TensorShape([1, 6, 6, 4])
        >>> SignConv(8, 1, threshold=True)(tf.ones((2, 16))).shape
        TensorShape([2, 8])
    """

    def __init__(self, filters: int, kernel_size: int | tuple[int, int], strides: int = 1,
                 padding: str = "valid", pad_values: float = 0.0, explicit_pad: int = 0,
                 mirror: bool = False, threshold: bool = False, use_bias: bool = False,
                 scaled: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.strides, self.padding = filters, strides, padding
        self.kernel_size = tuple(np.broadcast_to(kernel_size, 2).tolist())
        self.pad_values, self.explicit_pad = float(pad_values), int(explicit_pad)
        self.mirror, self.threshold, self.use_bias = bool(mirror), bool(threshold), use_bias
        self.scaled = bool(scaled)
        self.conv = lq.layers.QuantConv2D(
            filters, self.kernel_size, strides=strides, padding=padding,
            pad_values=pad_values, input_quantizer="ste_sign",
            use_bias=use_bias and not self.scaled, name="conv")

    def build(self, input_shape):
        if self.threshold:
            channels = int(input_shape[-1])
            self.theta = self.add_weight("theta", (channels,), initializer="zeros",
                                         trainable=False)
            self.inv_delta = self.add_weight("inv_delta", (channels,), initializer="ones",
                                             trainable=False)
        if self.scaled:
            # The kernel's per-channel magnitude as a multiplier after the convolution,
            # which LCE fuses into it: a ±1 kernel stays binary however small a
            # channel's scale is (a trained scale may pass through 0).
            self.scale = self.add_weight("scale", (self.filters,), initializer="ones",
                                         trainable=False)
            if self.use_bias:
                self.bias = self.add_weight("bias", (self.filters,), initializer="zeros",
                                            trainable=False)
        super().build(input_shape)

    def call(self, inputs):
        x = inputs
        if self.threshold:
            # −((x − θ)·(1/Δ)) bit for bit: IEEE subtraction and product are odd.
            x = (self.theta - x) * self.inv_delta
        dense = x.shape.rank == 2
        if dense:
            x = tf.reshape(x, [-1, 1, 1, x.shape[-1]])
        if self.explicit_pad:
            p = self.explicit_pad
            x = tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], constant_values=1.0)
        if self.mirror:
            x = tf.reverse(x, [1, 2])
        y = self.conv(x)
        if self.mirror:
            y = tf.reverse(y, [1, 2])
        if self.scaled:
            y = y * self.scale + self.bias if self.use_bias else y * self.scale
        return tf.reshape(y, [-1, self.filters]) if dense else y

    def set_values(self, kernel: np.ndarray, bias: np.ndarray | None = None,
                   theta: np.ndarray | None = None, inv_delta: np.ndarray | None = None,
                   scale: np.ndarray | None = None):
        """Assign the convolution's kernel (h, w, in, out) and bias, the threshold and,
        for a ``scaled`` layer, the per-output-channel scale applied before the bias.

        Example:
            >>> layer = SignConv(1, 1, use_bias=True)
            >>> _ = layer(tf.ones((1, 1, 1, 2)))
            >>> layer.set_values(np.ones((1, 1, 2, 1)), bias=np.array([0.5]))
            >>> layer(tf.constant([[[[3.0, -2.0]]]])).numpy().ravel().tolist()
            [0.5]
        """
        self.conv.kernel.assign(np.reshape(kernel, self.conv.kernel.shape))
        if scale is not None:
            self.scale.assign(scale)
        if bias is not None:
            (self.bias if self.scaled else self.conv.bias).assign(bias)
        if theta is not None:
            self.theta.assign(theta)
            self.inv_delta.assign(inv_delta)

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "strides": self.strides,
                "padding": self.padding, "pad_values": self.pad_values,
                "explicit_pad": self.explicit_pad, "mirror": self.mirror,
                "threshold": self.threshold, "use_bias": self.use_bias,
                "scaled": self.scaled}


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


def _precision(quantizer) -> int | None:
    if quantizer is None or isinstance(quantizer, (str, dict)):
        quantizer = quantizer and lq.quantizers.get(quantizer)
    return getattr(quantizer, "precision", None)


def inbound_layer(layer):
    """The single layer feeding ``layer`` in its model, or None.

    Example:
        >>> x = tf.keras.Input((4, 4, 1))
        >>> pad = Pad(1)
        >>> conv = tf.keras.layers.Conv2D(2, 3)
        >>> _ = conv(pad(x))
        >>> inbound_layer(conv) is pad
        True
    """
    nodes = layer._inbound_nodes
    if len(nodes) != 1:
        return None
    inbound = nodes[0].inbound_layers
    return inbound if not isinstance(inbound, list) else None


def padded_zero_sign_conv(pad) -> bool:
    """Whether ``pad`` is BNext's zero padding of a binary convolution's real input,
    which the rewrite moves into the convolution (see ``rewrite``).

    Example:
        >>> x = tf.keras.Input((8, 8, 2))
        >>> pad = Pad(1)
        >>> _ = lq.layers.QuantConv2D(4, 3, input_quantizer="bnext_sign",
        ...                           kernel_quantizer="ste_sign")(pad(x))
        >>> padded_zero_sign_conv(pad)
        True
    """
    if not isinstance(pad, Pad) or pad.value != 0.0 or len(pad._outbound_nodes) != 1:
        return False
    conv = pad._outbound_nodes[0].outbound_layer
    return _bnext_mode(conv, pad) is not None


def _bnext_mode(conv, pad) -> str | None:
    """"same" or "mirror" if ``conv`` after ``pad`` runs as a "same" LCE convolution."""
    if not (isinstance(conv, lq.layers.QuantConv2D) and is_binary_layer(conv)
            and isinstance(conv.input_quantizer, BNextSign) and conv.padding == "valid"
            and type(conv) is lq.layers.QuantConv2D and conv.dilation_rate == (1, 1)):
        return None
    modes = {_same_mode(size, k, s, pad.pad) for size, k, s in
             zip(pad.input_shape[1:3], conv.kernel_size, conv.strides, strict=True)}
    return modes.pop() if len(modes) == 1 and None not in modes else None


def _same_mode(size: int, kernel: int, stride: int, pad: int) -> str | None:
    """How a symmetric ``pad`` then "valid" equals TF's "same" (LCE's only zero padding):
    directly, on the mirrored map, or not at all.

    Example:
        >>> _same_mode(32, 3, 1, 1), _same_mode(32, 3, 2, 1), _same_mode(31, 3, 2, 1)
        ('same', 'mirror', 'same')
    """
    out = math.ceil(size / stride)
    if out != (size + 2 * pad - kernel) // stride + 1:
        return None
    total = max((out - 1) * stride + kernel - size, 0)
    if total // 2 == pad:
        return "same"
    # Mirrored, "same" pads ``total // 2`` at what was the bottom, ``total - total // 2``
    # at the top; the symmetric windows start ``pad`` above the top.
    return "mirror" if total - total // 2 == pad else None


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


def rewrite(layer, kernel: np.ndarray) -> tuple[SignConv, dict] | None:
    """The ``SignConv`` that replaces a BNext or Si-BNN binary ``layer`` whose binarized
    kernel is ``kernel``, and the values to give it (``SignConv.set_values``); None for
    any other layer.

    Example:
        >>> x = tf.keras.Input((6, 6, 2))
        >>> dense = lq.layers.QuantDense(3, input_quantizer="sibnn",
        ...                              kernel_quantizer="ste_sign")
        >>> _ = dense(tf.keras.layers.Flatten()(x))
        >>> new, values = rewrite(dense, np.ones((72, 3)))
        >>> type(new).__name__, values["bias"].tolist()  # ½·ΣK per output
        ('SignConv', [36.0, 36.0, 36.0])
    """
    if not is_binary_layer(layer):
        return None
    quantizer = layer.input_quantizer
    if isinstance(quantizer, SiBnn):
        return _sibnn(layer, kernel)
    if isinstance(quantizer, BNextSign):
        return _bnext(layer, kernel)
    return None


def _sibnn(layer, kernel: np.ndarray):
    # α·sign(w) per output channel: ±1 signs in the convolution, α after it.
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
        return (SignConv(layer.units, 1, **common),
                {**values, "kernel": -0.5 * signs.reshape(1, 1, *kernel.shape)})
    if layer.use_bias or layer.dilation_rate != (1, 1) or layer.pad_values != 0.0:
        return None
    values["kernel"] = -0.5 * signs
    if layer.padding == "valid":
        return SignConv(layer.filters, layer.kernel_size, layer.strides, **common), values
    symmetric = layer._is_native_padding is False  # PyTorch's padding (PaddedQuantConv2D)
    modes = {_same_mode(size, k, s, k // 2) for size, k, s in
             zip(layer.input_shape[1:3], layer.kernel_size, layer.strides, strict=True)}
    if not symmetric or modes == {"same"}:
        # TF's "same" with ones: LCE's one-padding, in the convolution itself.
        return (SignConv(layer.filters, layer.kernel_size, layer.strides, padding="same",
                         pad_values=1.0, **common), values)
    k = layer.kernel_size
    if k[0] != k[1]:
        return None
    return (SignConv(layer.filters, k, layer.strides, explicit_pad=k[0] // 2, **common),
            values)


def _bnext(layer, kernel: np.ndarray):
    pad = inbound_layer(layer)
    if not isinstance(pad, Pad):
        if layer.padding != "valid" or type(layer) is not lq.layers.QuantConv2D:
            return None
        # Unpadded (BNext's 1×1 modules): only the sign changes.
        return (SignConv(layer.filters, layer.kernel_size, layer.strides, name=layer.name),
                {"kernel": kernel})
    if not padded_zero_sign_conv(pad):
        return None  # its zero padding has no "same" form: the layer stays float
    mirror = _bnext_mode(layer, pad) == "mirror"
    return (SignConv(layer.filters, layer.kernel_size, layer.strides, padding="same",
                     mirror=mirror, name=layer.name),
            {"kernel": kernel[::-1, ::-1] if mirror else kernel})
