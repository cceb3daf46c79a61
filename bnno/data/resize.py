"""PIL's ``Image.resize`` of 8-bit RGB images (bicubic or bilinear) in TensorFlow, bit for bit.

The PyTorch recipes resize with PIL (torchvision's ``Resize`` and ``RandomResizedCrop``,
timm's crops). PIL resamples in two passes, horizontal then vertical. Each output value
is a weighted sum of the input values under the filter (bicubic with a = −0.5, or
bilinear), stretched by the scale when the image shrinks (antialiasing) and normalised
per output pixel; the weights are stored in 32-bit fixed point with 22 fractional bits,
and each pass rounds and clips its sums to 8 bits (Pillow's ``libImaging/Resample.c``,
the same from Pillow 4 to 12; Pillow 13 runs the vertical pass first for some shapes,
which moves some values by one level). Here the weights are computed in double precision
in PIL's order of operations, and each pass is the product of a sparse weight matrix
with the image in 32-bit integers: the same integer sums, so the same bytes.
``tf.image.resize`` (floating point, one rounding at the end) differs from PIL by one
level in about a fifth of the values.

Each output pixel depends on its own weights alone, so a window of the output (a crop
of the resized image) is computed without the rest, from the input rows and columns
under its weights (``support``): the rest of the image need not even be decoded.

Example:
    >>> import tensorflow as tf
    >>> image = tf.reshape(tf.range(6 * 8 * 3) % 256, (6, 8, 3))
    >>> resize(image, 3, 4).shape
    TensorShape([3, 4, 3])
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

_PRECISION_BITS = 32 - 8 - 2  # Resample.c's PRECISION_BITS


def exact_product(a, b):
    """``a · b`` rounded on its own, also under XLA: never fused with the sum it feeds.

    XLA fuses a product and a following sum into one fused multiply-add (one rounding)
    where the CPU has one, which PIL's builds do not (TensorFlow's kernels, one per step,
    do not either). A select on the product (never taken: the products here are
    finite) keeps them apart, since a sum of a select is not a multiply-add.

    Example:
        >>> float(exact_product(tf.constant(3.0), 0.5))
        1.5
    """
    product = a * b
    return tf.where(tf.math.is_nan(product), tf.zeros_like(product), product)


def _bicubic(x):
    """Resample.c's bicubic_filter (a = −0.5), in its order of operations."""
    x = tf.abs(x)
    near = ((1.5 * x - 2.5) * x) * x + 1.0
    far = (((x - 5.0) * x + 8.0) * x - 4.0) * -0.5
    return tf.where(x < 1.0, near, tf.where(x < 2.0, far, tf.zeros_like(x)))


def _bilinear(x):
    """Resample.c's bilinear_filter."""
    x = tf.abs(x)
    return tf.where(x < 1.0, 1.0 - x, tf.zeros_like(x))


# name -> (support, filter), as Resample.c's filter structs.
FILTERS = {"bicubic": (2.0, _bicubic), "bilinear": (1.0, _bilinear)}


def _check(filter: str) -> None:
    if filter not in FILTERS:
        raise ValueError(f"unknown filter '{filter}'; choose one of: {', '.join(FILTERS)}")


def _bounds(in_size, out_size, filter: str, start, count):
    """Per axis (the leading dimension of the stacked sizes) and output index ``start ..
    start + count − 1``: PIL's first input index (xmin), its number of taps (xmax), the
    output's centre on the input, the filter's scale and its support, as
    ``precompute_coeffs`` sets them."""
    in_size, out_size, start = (tf.reshape(tf.cast(v, tf.int32), [-1, 1])
                                for v in (in_size, out_size, start))
    scale = tf.cast(in_size, tf.float64) / tf.cast(out_size, tf.float64)
    filterscale = tf.maximum(scale, 1.0)
    support = FILTERS[filter][0] * filterscale
    index = start + tf.range(tf.cast(count, tf.int32))
    center = (tf.cast(index, tf.float64) + 0.5) * scale
    # C's (int) truncates towards zero; a negative xmin is clamped to 0 either way.
    xmin = tf.maximum(tf.cast(center - support + 0.5, tf.int32), 0)
    xmax = tf.minimum(tf.cast(center + support + 0.5, tf.int32), in_size) - xmin
    return xmin, xmax, center, filterscale, support


def support(in_size, out_size, filter: str, start, count):
    """The input indices ``[first, end)`` that output indices ``start .. start + count − 1``
    of a resize from ``in_size`` to ``out_size`` read (along one axis).

    Example:
        >>> [int(v) for v in support(500, 250, "bicubic", 0, 10)]  # 2× down: 4 px each side
        [0, 23]
    """
    _check(filter)
    xmin, xmax, *_ = _bounds(in_size, out_size, filter, start, count)
    return xmin[0, 0], xmin[0, -1] + xmax[0, -1]


def _taps(in_size, out_size, filter: str):
    """PIL's ksize, the weights per output, for the largest of the stacked axes."""
    scale = tf.cast(in_size, tf.float64) / tf.cast(out_size, tf.float64)
    widest = FILTERS[filter][0] * tf.maximum(tf.reduce_max(scale), 1.0)
    return tf.cast(tf.math.ceil(widest), tf.int32) * 2 + 1


def _tables(in_size, out_size, filter: str, start, count: int, first, length):
    """PIL's fixed-point weights, for the stacked axes: for each axis, output (of the
    ``count`` from ``start``) and tap, the input index (relative to ``first``, clamped
    into the ``length`` inputs at hand) and the int32 weight, each (axes, count, taps).
    Taps past an output's last one have weight 0. (Plain TensorFlow: per image, an XLA
    launch inside ``tf.data`` costs more than these small steps.)"""
    _check(filter)
    xmin, xmax, center, filterscale, _ = _bounds(in_size, out_size, filter, start, count)
    x = tf.range(_taps(in_size, out_size, filter))
    valid = x < xmax[..., None]
    # (x + xmin − center + 0.5) · (1 / filterscale), evaluated as C evaluates it.
    at = (tf.cast(x + xmin[..., None], tf.float64) - center[..., None] + 0.5) * (
        1.0 / filterscale[..., None])
    w = tf.where(valid, FILTERS[filter][1](at), 0.0)
    # PIL sums the weights left to right; a cumulative sum keeps that order (adding
    # the zeros of the unused taps changes nothing).
    total = tf.math.cumsum(w, axis=-1)[..., -1:]
    w = tf.where(total != 0.0, w / total, w)
    # normalize_coeffs_8bpc: round half away from zero to 22 fractional bits.
    scaled = w * float(1 << _PRECISION_BITS)
    fixed = tf.cast(tf.where(w < 0.0, scaled - 0.5, scaled + 0.5), tf.int32)
    first, length = (tf.reshape(tf.cast(v, tf.int32), [-1, 1, 1]) for v in (first, length))
    cols = tf.minimum(x + xmin[..., None] - first, length - 1)
    return cols, fixed


def _sparse(cols, fixed, length, flip=False, channels: int = 1) -> tf.SparseTensor:
    """A (count, length) sparse matrix with ``fixed[r, t]`` at column ``cols[r, t]`` of row
    r (rows in reverse order with ``flip``); with ``channels``, the matrix acting on that
    many interleaved channels: (r, c) becomes (channels·r + k, channels·c + k)."""
    count, taps = tf.shape(cols)[0], tf.shape(cols)[1]
    rows = tf.broadcast_to(tf.range(count)[:, None], [count, taps])
    rows = tf.where(flip, count - 1 - rows, rows)
    k = tf.range(channels)
    indices = tf.stack([rows[..., None] * channels + k, cols[..., None] * channels + k], -1)
    indices = tf.cast(tf.reshape(indices, [-1, 2]), tf.int64)
    values = tf.reshape(tf.repeat(fixed[..., None], channels, axis=-1), [-1])
    shape = tf.cast(tf.stack([count * channels, length * channels]), tf.int64)
    return tf.SparseTensor(indices, values, shape)


def weights(in_size, out_size, filter: str, start=0, count: int | None = None, first=0,
            length=None, flip: bool | tf.Tensor = False) -> tf.SparseTensor:
    """PIL's fixed-point weights of one pass as a sparse int32 matrix (weight × 2²²).

    Row ``r`` holds the weights of output index ``start + r`` (of a resize from
    ``in_size`` to ``out_size`` along one axis) over input indices ``first ..
    first + length − 1`` (the part of the input at hand, default all of it); with
    ``flip`` the rows come in reverse order (the output mirrored).

    Example:
        >>> w = weights(4, 2, "bilinear")  # halving: a triangle 4 inputs wide
        >>> tf.sparse.to_dense(w).numpy() / 2**22
        array([[0.42857146, 0.42857146, 0.14285707, 0.        ],
               [0.        , 0.14285707, 0.42857146, 0.42857146]])
    """
    count = int(out_size) if count is None else count
    length = in_size if length is None else length
    cols, fixed = _tables(in_size, out_size, filter, start, count, first, length)
    matrix = _sparse(cols[0], fixed[0], length, flip)
    return tf.sparse.reorder(tf.sparse.retain(matrix, matrix.values != 0))


def _round(sums):
    """Resample.c's rounding of a pass's fixed-point sums to 8 bits (clip8)."""
    sums = tf.bitwise.right_shift(sums + (1 << (_PRECISION_BITS - 1)), _PRECISION_BITS)
    # One pass (tf.clip_by_value makes two).
    return tf.raw_ops.ClipByValue(t=sums, clip_value_min=0, clip_value_max=255)


def resize_window(image, full_shape: Sequence, out_shape: Sequence, window: Sequence,
                  origin: Sequence = (0, 0), filter: str = "bicubic",
                  flip: bool | tf.Tensor = False):
    """Rows ``top .. top + height − 1`` and columns ``left .. left + width − 1`` (``window``)
    of PIL's resize of an image of ``full_shape`` (height, width) to ``out_shape``.

    ``image`` (height, width, 3; integer or float of 8-bit values) is the part of that
    image whose top-left pixel is ``origin``: it must hold the ``support`` of the window
    on both axes. ``flip`` mirrors the window left to right. ``height`` and ``width``
    are Python ints. Returns int32 values.

    Example:
        The central 224×224 crop of a 300×400 image resized to 256×341 equals
        ``resize(image, 256, 341)[16:240, 58:282]``::

            resize_window(image, (300, 400), (256, 341), (16, 58, 224, 224))
    """
    top, left, height, width = window
    in_h, in_w = tf.shape(image)[0], tf.shape(image)[1]
    if height == width:  # both axes' weights at once
        cols, fixed = _tables(tf.stack([full_shape[0], full_shape[1]]),
                              tf.stack([out_shape[0], out_shape[1]]), filter,
                              tf.stack([top, left]), height, tf.stack(origin),
                              tf.stack([in_h, in_w]))
        ys, xs = (cols[0], fixed[0]), (cols[1], fixed[1])
    else:
        ys, xs = ((c[0], f[0]) for c, f in (
            _tables(full_shape[0], out_shape[0], filter, top, height, origin[0], in_h),
            _tables(full_shape[1], out_shape[1], filter, left, width, origin[1], in_w)))
    x = tf.reshape(tf.cast(image, tf.int32), [in_h, in_w * 3])
    # The horizontal pass first, as PIL: (Wx ⊗ I₃) · xᵀ, transposed back (rows of x).
    x = tf.sparse.sparse_dense_matmul(_sparse(*xs, in_w, flip, channels=3), x, adjoint_b=True)
    x = tf.transpose(_round(x))
    x = _round(tf.sparse.sparse_dense_matmul(_sparse(*ys, in_h), x))
    return tf.reshape(x, [height, width, 3])


def resize(image, height: int, width: int, filter: str = "bicubic",
           flip: bool | tf.Tensor = False):
    """PIL's ``Image.fromarray(image).resize((width, height), filter)`` (mirrored left to
    right with ``flip``), for RGB images of 8-bit values; returns int32 values.

    Example:
        >>> import tensorflow as tf
        >>> image = tf.fill((5, 7, 3), 200)
        >>> int(tf.reduce_max(tf.abs(resize(image, 9, 3) - 200)))  # flat stays flat
        0
    """
    shape = tf.shape(image)[:2]
    return resize_window(image, shape, (height, width), (0, 0, height, width), filter=filter,
                         flip=flip)
