"""The LCE form of a binary convolution whose inputs are binarized by a sign with
sign(0) = 0 after a zero padding: the export rewrite that BNext's and ReActNet's
activation binarizers share (``rewrite=zero_sign_rewrite``, ``bnno.quantizers.registry``).

Models ported from PyTorch zero-pad a binary convolution's binarized input (``Pad``
before a "valid" convolution); ``torch.sign`` keeps the padding at 0 inside the window.
LCE bit-packs only larq's sign (sign(0) = +1), and represents a zero padding by TF's
"same" padding, for which it corrects the +1 that its bits hold at the border
(larq/compute-engine ``core/bconv2d/zero_padding_correction.h``). The rewrite moves the
padding into the convolution as TF's "same" (mirrored where PyTorch's symmetric padding
differs from it) and binarizes with larq's sign; inside the image the two signs differ
only on an exact 0.0.

LCE's correction covers an output pixel only in the four cases its code enumerates, and
assumes the kernel smaller than the image: where a window reaches past one border and
exactly to the other (a 3×3 kernel on a 2×2 map, stride 1: ReActNet-A's last block on
32×32 images), no case applies and the pixel is left uncorrected, so LCE computes ones
padding there. ``lce_corrects`` tells those geometries apart; for them the rewrite pads
with ones, which LCE computes without any correction, and adds the difference of the
zero padding as a constant map after the convolution (``BorderSignConv``), so the layer
stays an ``LceBconv2d`` and the output is exact. Each such layer is named in one logged
line.

Example:
    >>> lce_corrects((2, 2), (3, 3), (1, 1)), lce_corrects((3, 3), (3, 3), (1, 1))
    (False, True)
"""

from __future__ import annotations

import logging
import math

import larq as lq
import numpy as np
import tensorflow as tf

from bnno.layers.padding import Pad, inbound_layer, same_mode
from bnno.layers.sign_conv import Rewrite, SignConv

_log = logging.getLogger(__name__)


def _same_offsets(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """Output size and the padding before the image of TF's "same"."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return out, total // 2


def lce_corrects(size: tuple[int, int], kernel: tuple[int, int],
                 strides: tuple[int, int]) -> bool:
    """Whether LCE's zero-padding correction covers every output pixel of a binary
    convolution with TF's "same" zero padding on a map of ``size`` (height, width).

    The four cases of LCE's ``ApplyCorrection`` (by how far the window sticks out on
    each side: ``top``, ``bottom``, ``left``, ``right``): top edge (right ≤ 0, top > 0,
    bottom < 0), right edge (left < 0, right > 0, bottom ≤ 0), left edge (left > 0,
    right < 0, top ≤ 0), bottom edge (left ≤ 0, top < 0, bottom > 0). A pixel whose
    window sticks out somewhere but fits none is not corrected.

    Example:
        >>> lce_corrects((4, 4), (3, 3), (2, 2)), lce_corrects((1, 1), (3, 3), (1, 1))
        (True, False)
    """
    (out_h, top0), (out_w, left0) = (_same_offsets(s, k, d) for s, k, d
                                     in zip(size, kernel, strides, strict=True))
    for y in range(out_h):
        top = top0 - y * strides[0]
        bottom = kernel[0] - size[0] - top
        for x in range(out_w):
            left = left0 - x * strides[1]
            right = kernel[1] - size[1] - left
            if max(top, bottom, left, right) <= 0:
                continue
            if not ((right <= 0 < top and bottom < 0) or (left < 0 < right and bottom <= 0)
                    or (right < 0 < left and top <= 0) or (left <= 0 and top < 0 < bottom)):
                return False
    return True


@lq.utils.register_keras_custom_object
class BorderSignConv(SignConv):
    """A ``SignConv`` followed by a constant (output height, width, filters) map added
    to its output: ones padding plus the correction to zero padding that LCE misses.

    Example:
        >>> layer = BorderSignConv(2, 3, padding="same", pad_values=1.0)
        >>> layer(tf.ones((1, 2, 2, 1))).shape
        TensorShape([1, 2, 2, 2])
    """

    def build(self, input_shape):
        super().build(input_shape)
        out = [_same_offsets(int(s), k, d)[0] for s, k, d in
               zip(input_shape[1:3], self.kernel_size,
                   np.broadcast_to(self.strides, 2).tolist(), strict=True)]
        self.border = self.add_weight("border", (*out, self.filters), initializer="zeros",
                                      trainable=False)

    def call(self, inputs):
        y = super().call(inputs)
        # Added to the flattened output: LCE's converter would otherwise fuse the add
        # into the binary convolution as a per-channel bias, which a map is not.
        flat = tf.reshape(y, [-1, int(np.prod(y.shape[1:]))]) + tf.reshape(self.border, [-1])
        return tf.reshape(flat, [-1, *y.shape[1:]])

    def set_values(self, kernel: np.ndarray, border: np.ndarray | None = None, **values):
        """``SignConv.set_values``, and the constant map ``border``.

        Example:
            >>> layer = BorderSignConv(1, 1)
            >>> _ = layer(tf.ones((1, 1, 1, 1)))
            >>> layer.set_values(np.ones((1, 1, 1, 1)), border=np.full((1, 1, 1), 0.5))
            >>> float(layer(tf.ones((1, 1, 1, 1)))[0, 0, 0, 0])
            1.5
        """
        super().set_values(kernel, **values)
        if border is not None:
            self.border.assign(border)


def zero_border(size: tuple[int, int], pad: int, kernel: np.ndarray,
                strides: tuple[int, int]) -> np.ndarray:
    """What zero padding gives less what ones padding gives, per output pixel and
    channel, for a ``pad``-pixel symmetric padding then a "valid" convolution: minus
    the kernel's taps that fall on the padding, summed.

    Example:
        A 3×3 kernel of ones on a 2×2 map: each output pixel has 5 taps on the padding.

        >>> zero_border((2, 2), 1, np.ones((3, 3, 1, 1)), (1, 1))[..., 0]
        array([[-5., -5.],
               [-5., -5.]], dtype=float32)
    """
    ones = np.pad(np.zeros((1, *size, kernel.shape[2]), np.float32),
                  [(0, 0), (pad, pad), (pad, pad), (0, 0)], constant_values=1.0)
    taps = tf.nn.conv2d(ones, kernel.astype(np.float32), strides, "VALID")
    return -taps.numpy()[0]


def zero_sign_rewrite(layer, kernel: np.ndarray) -> Rewrite | None:
    """The LCE form of a binary convolution on inputs of a sign with sign(0) = 0 (see
    the module docstring): larq's sign, and the zero padding of the layer before it
    (``Pad``) moved into the convolution as TF's "same" — on the mirrored map where the
    two paddings differ, with ones and a constant correction where LCE's own correction
    misses pixels. A padding without a "same" form leaves the layer in float (None).

    Example:
        >>> x = tf.keras.Input((8, 8, 2))
        >>> pad = Pad(1)
        >>> conv = lq.layers.QuantConv2D(4, 3, strides=2, input_quantizer="bnext_sign",
        ...                              kernel_quantizer="ste_sign")
        >>> _ = conv(pad(x))
        >>> found = zero_sign_rewrite(conv, np.ones((3, 3, 2, 4), np.float32))
        >>> found.layer.mirror, found.absorbed == (pad,)
        (True, True)
    """
    if type(layer) is not lq.layers.QuantConv2D or layer.dilation_rate != (1, 1):
        return None
    pad = inbound_layer(layer)
    if not isinstance(pad, Pad):
        if layer.padding != "valid":
            return None
        # Unpadded (1×1 convolutions): only the sign changes.
        return Rewrite(SignConv(layer.filters, layer.kernel_size, layer.strides,
                                name=layer.name), {"kernel": kernel})
    if pad.value != 0.0 or len(pad._outbound_nodes) != 1 or layer.padding != "valid":
        return None
    size = tuple(pad.input_shape[1:3])
    modes = {same_mode(s, k, d, pad.pad) for s, k, d in
             zip(size, layer.kernel_size, layer.strides, strict=True)}
    if len(modes) != 1 or None in modes:
        return None  # its zero padding has no "same" form: the layer stays float
    mirror = modes.pop() == "mirror"
    flipped = kernel[::-1, ::-1] if mirror else kernel
    if lce_corrects(size, layer.kernel_size, layer.strides):
        return Rewrite(SignConv(layer.filters, layer.kernel_size, layer.strides,
                                padding="same", mirror=mirror, name=layer.name),
                       {"kernel": flipped}, absorbed=(pad,))
    _log.warning("%s: LCE's zero-padding correction misses pixels of a %dx%d binary "
                 "convolution on a %dx%d map; exported with ones padding and a constant "
                 "correction", layer.name, *layer.kernel_size, *size)
    border = zero_border(size, pad.pad, kernel, layer.strides)
    return Rewrite(BorderSignConv(layer.filters, layer.kernel_size, layer.strides,
                                  padding="same", pad_values=1.0, mirror=mirror,
                                  name=layer.name),
                   {"kernel": flipped, "border": border}, absorbed=(pad,))
