"""RandAugment as BNext's official loader runs it (timm's ``rand-m7-mstd0.5-inc1``), in
TensorFlow.

The official trainer builds its ImageNet loader with timm 0.6.11, mean = ImageNet's and
interpolation = bicubic, so timm hands RandAugment a fill colour of
round(255 · (0.485, 0.456, 0.406)) = (124, 116, 104) (``FILL``) and bicubic resampling for
the geometric operations. ``inc1`` selects timm's 15 "increasing" operations, whose
strength grows with the magnitude (posterize, solarize, color, contrast, brightness and
sharpness differ from the plain list; both translate by a fraction, 0.45 × magnitude / 10,
of the image size). For each image, 2 operations are drawn uniformly with replacement;
each runs with probability 0.5 at a magnitude drawn from N(7, 0.5²) and clipped to
[0, 10]; rotation, shear, translation and the colour factors take a random sign.

timm runs the operations with PIL on 8-bit images, so these functions take and return
float32 images of 8-bit values (height, width, 3) and reproduce PIL's bytes: values
stored as PIL stores them (clipped to [0, 255] and truncated), its RGB → L weights, its
look-up tables, its single-precision blends and 3×3 filter, and, for the geometric
operations, its affine sampling (pixel centres at +0.5, bicubic kernel with a = −1,
edges clamped, ``FILL`` where the source point lies outside the image), each in PIL's
order of operations and precision. The maintained TensorFlow implementations
(tf-models-official, KerasCV) pin other TensorFlow/Keras versions or use other
operation sets and magnitude rules.

Every operation runs compiled with XLA: its elementwise steps fused into one loop are
several times faster than one TensorFlow kernel per step (``equalize`` takes its
histograms with TensorFlow's kernel, faster than XLA's). XLA would fuse a product and
the sum it feeds into one rounding (a fused multiply-add), which PIL's builds do not;
``bnno.data.resize.exact_product`` keeps every such product rounded on its own, so the
bytes stay PIL's. An image's choices come from its seed by stateless ops (``draws``), and
``rand_augment_batch`` augments a batch at once, each image with its own draws.

Example:
    >>> rand_augment(tf.fill((8, 8, 3), 100.0)).shape
    TensorShape([8, 8, 3])
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import tensorflow as tf

from bnno.data.resize import exact_product as _times

# timm's ``img_mean``: round(255 × ImageNet mean), the loader's fill colour.
FILL = (124.0, 116.0, 104.0)
_MAX_LEVEL = 10.0


def _xla(fn):
    """``fn`` compiled with XLA for the CPU, for each input shape (the first call of a
    shape compiles). The CPU even where a GPU is the default device: PIL's arithmetic
    is the CPU's, and input pipelines run there."""
    compiled = tf.function(fn, jit_compile=True, reduce_retracing=True, autograph=False)

    @functools.wraps(fn)
    def on_cpu(*args):
        with tf.device("/CPU:0"):
            return compiled(*args)

    return on_cpu


def _f64(x):
    """``x`` as a float64 tensor; a Python number without a detour through float32."""
    return tf.cast(x, tf.float64) if tf.is_tensor(x) else tf.constant(x, tf.float64)


def _f32(x):
    return tf.cast(x, tf.float32)


def _store(x):
    """PIL's 8-bit store: clip to [0, 255], truncate."""
    return tf.floor(tf.clip_by_value(x, 0.0, 255.0))


def _blend(image, degenerate, factor):
    """PIL's ``Image.blend(degenerate, image, factor)`` (single precision, truncated)."""
    return _store(degenerate + _times(factor, image - degenerate))


def _luma(image):
    """PIL's RGB → L conversion: (19595 R + 38470 G + 7471 B + 2¹⁵) >> 16 (exact in float32)."""
    weights = tf.constant([19595.0, 38470.0, 7471.0])
    return tf.floor((tf.reduce_sum(image * weights, axis=-1, keepdims=True) + 32768.0) / 65536.0)


def _cubic(v1, v2, v3, v4, t):
    """Pillow's BICUBIC step (``libImaging/Geometry.c``, a = −1) in its order of operations."""
    p2 = -v1 + v3
    p3 = 2.0 * (v1 - v2) + v3 - v4
    p4 = -v1 + v2 - v3 + v4
    return v2 + _times(t, p2 + _times(t, p3 + _times(t, p4)))


def _grid(image):
    """PIL's coordinates of the pixel centres: (x, y) = (j + 0.5, i + 0.5), as float64."""
    h, w = tf.shape(image)[0], tf.shape(image)[1]
    y, x = tf.meshgrid(tf.range(tf.cast(h, tf.float64)) + 0.5,
                       tf.range(tf.cast(w, tf.float64)) + 0.5, indexing="ij")
    return x, y


def _finish(value, x, y, image, fill):
    """PIL's store of the interpolated ``value`` (float64), and ``fill`` where the source
    point (x, y) lies outside the image."""
    h, w = (tf.cast(n, tf.float64) for n in tf.unstack(tf.shape(image)[:2]))
    inside = (x >= 0.0) & (x < w) & (y >= 0.0) & (y < h)
    return tf.where(inside[..., None], _f32(_store(value)), fill)


def affine(image, coefficients: Sequence, fill: Sequence[float] = FILL):
    """PIL's ``Image.transform(size, AFFINE, coefficients, BICUBIC, fillcolor=fill)``.

    ``coefficients`` (a, b, c, d, e, f) map an output point (x, y) to the source point
    (a·x + b·y + c, d·x + e·y + f), in PIL's coordinates where pixel (i, j) has its
    centre at (j + 0.5, i + 0.5). Source points and the interpolation are computed in
    double precision, in PIL's order of operations.

    Example:
        >>> image = tf.reshape(tf.range(48.0), (4, 4, 3))
        >>> bool(tf.reduce_all(affine(image, (1, 0, 0, 0, 1, 0)) == image))  # identity
        True
        >>> affine(image, (1, 0, 10, 0, 1, 0))[0, 0].numpy()  # source outside: the fill
        array([124., 116., 104.], dtype=float32)
    """
    return _affine(_f32(image), tf.stack([_f64(v) for v in coefficients]), _f32(fill))


@_xla
def _affine(image, coefficients, fill):
    a, b, c, d, e, f = tf.unstack(coefficients)
    h, w = tf.shape(image)[0], tf.shape(image)[1]
    u, v = _grid(image)
    x = _times(a, u) + _times(b, v) + c
    y = _times(d, u) + _times(e, v) + f
    x0, y0 = tf.floor(x - 0.5), tf.floor(y - 0.5)
    dx, dy = (x - 0.5 - x0)[..., None], (y - 0.5 - y0)[..., None]
    cols = [tf.clip_by_value(tf.cast(x0, tf.int32) + k, 0, w - 1) for k in (-1, 0, 1, 2)]
    rows = [tf.clip_by_value(tf.cast(y0, tf.int32) + k, 0, h - 1) * w for k in (-1, 0, 1, 2)]
    pixels = tf.reshape(tf.cast(image, tf.float64), [-1, 3])
    along_x = [_cubic(*[tf.gather(pixels, row + col) for col in cols], dx) for row in rows]
    return _finish(_cubic(*along_x, dy), x, y, image, fill)


@_xla
def _along_rows(image, factor, shift, fill):
    """``affine`` with coefficients (1, factor, shift, 0, 1, 0): every pixel samples its
    own row (source y = its y), so PIL's vertical step returns the row's 1-D bicubic.
    Each row's taps are one window of its edge-clamped pixels, gathered once."""
    w = tf.shape(image)[1]
    u, v = _grid(image)
    x = u + _times(factor, v) + shift
    s = x - 0.5
    first = tf.floor(s[:, :1])  # the left tap of column 0, per row
    t = (s - (first + tf.range(tf.cast(w, tf.float64))))[..., None]
    cols = tf.clip_by_value(tf.cast(first, tf.int32) - 1 + tf.range(w + 3), 0, w - 1)
    taps = tf.cast(tf.gather(image, cols, axis=1, batch_dims=1), tf.float64)
    value = _cubic(taps[:, :w], taps[:, 1:w + 1], taps[:, 2:w + 2], taps[:, 3:], t)
    return _finish(value, x, v, image, fill)


@_xla
def _along_columns(image, factor, shift, fill):
    """``affine`` with coefficients (1, 0, 0, factor, 1, shift): every pixel samples its
    own column, as ``_along_rows`` its row."""
    h, w = tf.shape(image)[0], tf.shape(image)[1]
    u, v = _grid(image)
    y = _times(factor, u) + v + shift
    s = y - 0.5
    first = tf.floor(s[:1, :])  # the top tap of row 0, per column
    t = (s - (first + tf.range(tf.cast(h, tf.float64))[:, None]))[..., None]
    rows = tf.clip_by_value(tf.cast(first, tf.int32) - 1 + tf.range(h + 3)[:, None], 0, h - 1)
    flat = tf.reshape(image, [-1, 3])
    taps = tf.cast(tf.gather(flat, rows * w + tf.range(w)), tf.float64)
    value = _cubic(taps[:h], taps[1:h + 1], taps[2:h + 2], taps[3:], t)
    return _finish(value, u, y, image, fill)


def _round15(x):
    """Python's ``round(x, 15)`` for |x| ≤ 1, exactly, as PIL's ``rotate`` rounds.

    Python rounds the exact value of x · 10¹⁵ (half to even) and divides; the double
    product is off by up to 1/8, so its exact remainder is recovered (Dekker's product:
    x · 10¹⁵ = p + error) and decides the rounding.
    """
    scale = 1e15

    def split(a):  # Veltkamp: a = high + low, each half the mantissa
        t = _times(134217729.0, a)
        high = t - (t - a)
        return high, a - high

    p = _times(x, scale)
    xh, xl = split(x)
    sh, sl = split(tf.constant(scale, tf.float64))
    error = ((_times(xh, sh) - p) + _times(xh, sl) + _times(xl, sh)) + _times(xl, sl)
    n = tf.round(p)
    rest = (p - n) + error
    n = tf.where(rest > 0.5, n + 1.0, tf.where(rest < -0.5, n - 1.0, n))
    return n / scale


def rotate(image, degrees, fill: Sequence[float] = FILL):
    """PIL's ``image.rotate(degrees, BICUBIC, fillcolor=fill)``: counter-clockwise about
    the centre, same size (PIL's matrix: the angle taken modulo 360, cosine and sine
    rounded to 15 decimals).

    Example: ``rotate(image, 30.0)`` turns the content 30° counter-clockwise.
    """
    angle = -tf.math.floormod(_f64(degrees), 360.0) * (math.pi / 180.0)
    cos, sin = _round15(tf.cos(angle)), _round15(tf.sin(angle))
    cx = tf.cast(tf.shape(image)[1], tf.float64) / 2.0
    cy = tf.cast(tf.shape(image)[0], tf.float64) / 2.0
    c = cos * -cx + sin * -cy + 0.0 + cx
    f = -sin * -cx + cos * -cy + 0.0 + cy
    return affine(image, (cos, sin, c, -sin, cos, f), fill)


def shear_x(image, factor, fill: Sequence[float] = FILL):
    """Horizontal shear: output (x, y) samples the source at (x + factor·y, y).

    Example: ``shear_x(image, 0.3)``.
    """
    return _along_rows(_f32(image), _f64(factor), _f64(0.0), _f32(fill))


def shear_y(image, factor, fill: Sequence[float] = FILL):
    """Vertical shear: output (x, y) samples the source at (x, y + factor·x).

    Example: ``shear_y(image, -0.2)``.
    """
    return _along_columns(_f32(image), _f64(factor), _f64(0.0), _f32(fill))


def translate_x(image, pixels, fill: Sequence[float] = FILL):
    """Output (x, y) samples the source at (x + pixels, y): content moves left.

    Example: ``translate_x(image, 10.5)``.
    """
    return _along_rows(_f32(image), _f64(0.0), _f64(pixels), _f32(fill))


def translate_y(image, pixels, fill: Sequence[float] = FILL):
    """Output (x, y) samples the source at (x, y + pixels): content moves up.

    Example: ``translate_y(image, -7.0)``.
    """
    return _along_columns(_f32(image), _f64(0.0), _f64(pixels), _f32(fill))


def auto_contrast(image):
    """PIL's ``ImageOps.autocontrast``: each channel stretched to [0, 255] (its look-up
    table ``int(v · scale + offset)``, in double precision as Python computes it).

    Example: ``auto_contrast(image)`` maps each channel's minimum to 0, maximum to 255.
    """
    return _auto_contrast(_f32(image))


@_xla
def _auto_contrast(x):
    lo = tf.cast(tf.reduce_min(x, axis=[0, 1]), tf.float64)
    hi = tf.cast(tf.reduce_max(x, axis=[0, 1]), tf.float64)
    scale = 255.0 / tf.maximum(hi - lo, 1.0)
    offset = _times(-lo, scale)
    values = tf.range(256.0, dtype=tf.float64)[:, None]
    stretched = tf.clip_by_value(tf.floor(_times(values, scale) + offset), 0.0, 255.0)
    return _lookup(x, tf.where(hi > lo, stretched, values))


def _lookup(image, table):
    """Each value v of channel c replaced by ``table[v, c]`` (a 256 × 3 table), as PIL's
    ``point`` does."""
    index = tf.cast(image, tf.int32) * 3 + tf.range(3)
    return tf.gather(tf.reshape(_f32(table), [-1]), index)


def equalize(image):
    """PIL's ``ImageOps.equalize``: per-channel histogram equalisation (its look-up
    table: cumulative counts over a step of (pixels − count of the top value) // 255).
    Not compiled: TensorFlow's histogram kernel is faster than XLA's scatter-add.

    Example: ``equalize(image)``.
    """
    return _lookup(image, _equalize_table(image))


def _equalize_table(image):
    """``equalize``'s look-up table of ``image``: 256 × 3, float32."""
    return _equalize_tables_of(tf.cast(image, tf.int32)[None])[0]


def _equalize_tables_of(images):
    """``equalize``'s look-up tables of a batch of int32 images: (batch, 256, 3)."""
    n = tf.shape(images)[0]
    # One histogram of batch × 3 × 256 bins.
    bins = images + (tf.range(n)[:, None, None, None] * 3 + tf.range(3)) * 256
    hist = tf.reshape(tf.math.bincount(tf.reshape(bins, [-1]), minlength=n * 768,
                                       maxlength=n * 768), [n, 3, 256])
    top = tf.gather(hist, tf.reduce_max(images, axis=[1, 2]), batch_dims=2)
    step = (tf.reduce_sum(hist, axis=2) - top) // 255
    lut = (tf.cumsum(hist, axis=2) - hist + (step // 2)[..., None]) // tf.maximum(step, 1)[
        ..., None]
    # A channel of one value, or too few pixels off its top value, stays as it is.
    lut = tf.where(step[..., None] > 0, tf.clip_by_value(lut, 0, 255), tf.range(256))
    return _f32(tf.transpose(lut, [0, 2, 1]))


def invert(image):
    """255 − x.

    Example: ``invert(image)``.
    """
    return 255.0 - _f32(image)


def posterize(image, bits):
    """Keep the ``bits`` most significant bits of every value (0 to 8).

    Example: ``posterize(image, 2)`` leaves the values 0, 64, 128 and 192.
    """
    step = tf.bitwise.left_shift(1, 8 - tf.cast(bits, tf.int32))
    return _posterize(_f32(image), _f32(step))


@_xla
def _posterize(image, step):
    return tf.floor(image / step) * step


def solarize(image, threshold):
    """Invert the values at or above ``threshold``.

    Example: ``solarize(image, 128)``.
    """
    return _solarize(_f32(image), _f32(threshold))


@_xla
def _solarize(image, threshold):
    return tf.where(image >= threshold, 255.0 - image, image)


def solarize_add(image, add, threshold=128):
    """Add ``add`` (saturating at 255) to the values below ``threshold``.

    Example: ``solarize_add(image, 40)``.
    """
    return _solarize_add(_f32(image), _f32(add), _f32(threshold))


@_xla
def _solarize_add(image, add, threshold):
    return tf.where(image < threshold, tf.minimum(image + add, 255.0), image)


def color(image, factor):
    """PIL's ``ImageEnhance.Color(image).enhance(factor)``: blend with the grey image.

    Example: ``color(image, 0.0)`` is the grey image, ``color(image, 1.0)`` the image.
    """
    return _color(_f32(image), _f32(factor))


@_xla
def _color(image, factor):
    return _blend(image, _luma(image), factor)


def contrast(image, factor):
    """PIL's ``ImageEnhance.Contrast``: blend with the mean grey level (rounded).

    Example: ``contrast(image, 1.5)``.
    """
    return _contrast(_f32(image), _f32(factor))


@_xla
def _contrast(image, factor):
    mean = tf.floor(tf.reduce_mean(tf.cast(_luma(image), tf.float64)) + 0.5)
    return _blend(image, _f32(mean), factor)


def brightness(image, factor):
    """PIL's ``ImageEnhance.Brightness``: blend with black.

    Example: ``brightness(image, 1.3)``.
    """
    return _brightness(_f32(image), _f32(factor))


@_xla
def _brightness(image, factor):
    return _blend(image, 0.0, factor)


def sharpness(image, factor):
    """PIL's ``ImageEnhance.Sharpness``: blend with PIL's SMOOTH filter of the image
    (3×3 kernel 1 1 1 / 1 5 1 / 1 1 1 over 13, rounded; border pixels kept).

    Example: ``sharpness(image, 1.6)``.
    """
    return _sharpness(_f32(image), _f32(factor))


@_xla
def _sharpness(image, factor):
    return _blend(image, _smooth(image), factor)


def _smooth(image):
    """PIL's SMOOTH filter (``ImagingFilter3x3``) in its single-precision order: per pixel
    0.5 + row below + row + row above, each row (left·k₀ + centre·k₁) + right·k₂ with
    the kernel divided by 13 in single precision; truncated; border pixels kept."""
    side, centre = tf.constant(1.0) / 13.0, tf.constant(5.0) / 13.0

    def row(r, middle):
        return (_times(r[:, :-2], side) + _times(r[:, 1:-1], middle)) + _times(r[:, 2:], side)

    inner = ((0.5 + row(image[2:], side)) + row(image[1:-1], centre)) + row(image[:-2], side)
    inner = tf.floor(tf.clip_by_value(inner, 0.0, 255.0))
    return tf.concat([image[:1], tf.concat([image[1:-1, :1], inner, image[1:-1, -1:]], 1),
                      image[-1:]], 0)


def _signed(x, negate):
    """timm's ``_randomly_negate``: ``-x`` where ``negate`` (a bool tensor)."""
    return tf.where(negate, -x, x)


def _fraction(level):
    """timm's level / _LEVEL_DENOM, in double precision as Python computes it."""
    return _f64(level) / _MAX_LEVEL


def _enhance_factor(level, negate):
    return tf.maximum(1.0 + _signed(_fraction(level) * 0.9, negate), 0.1)


def _size(image, axis: int):
    return tf.cast(tf.shape(image)[axis], tf.float64)


# timm's _RAND_INCREASING_TRANSFORMS, in its order, each as kernel(image, magnitude,
# negate), ``negate`` being the sign draw of the ops that take one.
_KERNELS = (
    lambda x, m, negate: auto_contrast(x),
    lambda x, m, negate: equalize(x),
    lambda x, m, negate: invert(x),
    lambda x, m, negate: rotate(x, _signed(_fraction(m) * 30.0, negate)),
    lambda x, m, negate: posterize(x, 4 - tf.cast(_fraction(m) * 4.0, tf.int32)),
    lambda x, m, negate: solarize(x, 256.0 - tf.floor(_fraction(m) * 256.0)),
    lambda x, m, negate: solarize_add(x, tf.floor(_fraction(m) * 110.0)),
    lambda x, m, negate: color(x, _enhance_factor(m, negate)),
    lambda x, m, negate: contrast(x, _enhance_factor(m, negate)),
    lambda x, m, negate: brightness(x, _enhance_factor(m, negate)),
    lambda x, m, negate: sharpness(x, _enhance_factor(m, negate)),
    lambda x, m, negate: shear_x(x, _signed(_fraction(m) * 0.3, negate)),
    lambda x, m, negate: shear_y(x, _signed(_fraction(m) * 0.3, negate)),
    lambda x, m, negate: translate_x(x, _signed(_fraction(m) * 0.45, negate) * _size(x, 1)),
    lambda x, m, negate: translate_y(x, _signed(_fraction(m) * 0.45, negate) * _size(x, 0)),
)
_EQUALIZE = 1  # its histograms are taken outside XLA (see ``rand_augment_batch``)


def _op(kernel):
    """An entry of ``OPS``: ``kernel`` with the sign drawn from the global random state
    when ``negate`` is None."""

    def op(image, magnitude, negate=None):
        if negate is None:
            negate = tf.random.uniform([]) < 0.5
        return kernel(_f32(image), _f64(magnitude), negate)

    return op


# timm's RandAugment operations, each as op(image, magnitude, negate=None).
OPS = tuple(_op(kernel) for kernel in _KERNELS)

# Uniform draws per operation (its index, whether it runs, its sign) and normal ones.
UNIFORMS, NORMALS = 3, 1


def draws(num_ops: int, seed=None):
    """The random choices of ``rand_augment`` for one image: per operation, uniform
    draws for its index in ``OPS``, whether it runs and its sign, and a standard normal
    draw for its magnitude, as (num_ops, 4) float64.

    timm draws the operations uniformly with replacement (``np.random.choice``), runs
    each unless ``random() > prob``, negates its argument if ``random() > 0.5`` and
    draws its magnitude from ``gauss(magnitude, magnitude_std)``. Here the same
    distributions come from ``seed`` (a shape-[2] integer tensor) by stateless ops, or
    from TensorFlow's global random state when ``seed`` is None.

    Example:
        >>> draws(2, tf.constant([1, 2], tf.int64)).shape
        TensorShape([2, 4])
    """
    if seed is None:
        uniforms = tf.random.uniform([num_ops, UNIFORMS], dtype=tf.float64)
        normals = tf.random.normal([num_ops, NORMALS], dtype=tf.float64)
    else:
        seeds = tf.random.experimental.stateless_split(seed, 2)
        uniforms = tf.random.stateless_uniform([num_ops, UNIFORMS], seeds[0], dtype=tf.float64)
        normals = tf.random.stateless_normal([num_ops, NORMALS], seeds[1], dtype=tf.float64)
    return tf.concat([uniforms, normals], axis=1)


def rand_augment(image, num_ops: int = 2, magnitude: float = 7.0,
                 magnitude_std: float = 0.5, prob: float = 0.5, seed=None):
    """Apply ``num_ops`` operations drawn from ``OPS``, each with probability ``prob``, at
    a magnitude drawn from N(magnitude, magnitude_std²) clipped to [0, 10] (``draws``).

    ``image``: (height, width, 3) with 8-bit values (rounded, as the PIL image timm
    augments); the result has 8-bit values too. With ``seed`` (a shape-[2] integer
    tensor) every choice is a stateless function of it; without, of the global random
    state. ``rand_augment_batch`` of a batch of one.

    Example:
        >>> seed = tf.constant([5, 6], tf.int64)
        >>> out = rand_augment(tf.fill((8, 8, 3), 100.0), seed=seed)
        >>> out.shape, out.dtype
        (TensorShape([8, 8, 3]), tf.float32)
        >>> bool(tf.reduce_all(out == rand_augment(tf.fill((8, 8, 3), 100.0), seed=seed)))
        True
    """
    chosen = draws(num_ops, seed)[None]
    return rand_augment_batch(_f32(image)[None], chosen, magnitude, magnitude_std, prob)[0]


def rand_augment_batch(images, chosen, magnitude: float = 7.0, magnitude_std: float = 0.5,
                       prob: float = 0.5, normalize: tuple | None = None):
    """``rand_augment`` of each image of a batch, given its ``draws`` (batch, num_ops, 4).

    Each operation runs only on the images that drew it, in one XLA program per layer
    that loops over the batch and branches per image (far cheaper per image than a
    TensorFlow conditional per image); the images in between are 8-bit. ``equalize``'s
    histograms are TensorFlow's (XLA's scatter-add is slow), taken of the images that
    drew it alone; its look-up runs in the program. Run it eagerly: inside a ``tf.data``
    function TensorFlow launches large XLA programs several times slower
    (``bnno.data.preprocessing`` calls it through ``tf.py_function``). ``normalize``
    (channel means, deviations) returns ``(image − mean) / deviation``, computed in the
    last program; float32 either way.

    Example:
        >>> batch = tf.fill((4, 8, 8, 3), 100.0)
        >>> chosen = tf.stack([draws(2, tf.constant([1, i], tf.int64)) for i in range(4)])
        >>> rand_augment_batch(batch, chosen).shape
        TensorShape([4, 8, 8, 3])
    """
    images = tf.cast(images, tf.uint8)
    layers = chosen.shape[1]
    for k in range(layers):
        u = tf.cast(chosen[:, k], tf.float64)
        index = tf.minimum(tf.cast(u[:, 0] * len(OPS), tf.int32), len(OPS) - 1)
        # Branch len(OPS) leaves the image as it is (timm: random() > prob).
        branch = tf.where(u[:, 1] > prob, len(OPS), index)
        level = tf.clip_by_value(magnitude + magnitude_std * u[:, 3], 0.0, _MAX_LEVEL)
        tables = _equalize_tables(images, branch == _EQUALIZE)
        if k < layers - 1:
            images = _layer(images, branch, level, u[:, 2] > 0.5, tables, 0.0, 1.0, "uint8")
        else:
            mean, std = normalize or (0.0, 1.0)
            images = _layer(images, branch, level, u[:, 2] > 0.5, tables, _f32(mean),
                            _f32(std), "float32")
    return images


@_xla
def _layer(images, branch, level, negate, tables, mean, std, dtype: str):
    """One operation per image (``branch`` indexes ``_KERNELS``; len(OPS) leaves the image
    as it is; equalize looks its values up in the image's row of ``tables``), in one
    XLA loop over the batch, then ``(x − mean) / std`` as ``dtype``. Every image is
    first written as it is; only those that drew an operation are written again."""
    def finish(x):
        return tf.cast((x - mean) / std, dtype)

    def body(i, out):
        def change():
            x = _f32(images[i])
            ops = [functools.partial(k, x, level[i], negate[i]) for k in _KERNELS]
            ops[_EQUALIZE] = lambda: _lookup(x, tables[i])
            y = finish(tf.switch_case(tf.minimum(branch[i], len(OPS) - 1), ops))
            return tf.tensor_scatter_nd_update(out, [[i]], y[None])

        return i + 1, tf.cond(branch[i] < len(OPS), change, lambda: out)

    return tf.while_loop(lambda i, out: i < tf.shape(images)[0], body,
                         (0, finish(_f32(images))))[1]


def _equalize_tables(images, where):
    """Per image, ``equalize``'s look-up table (256 × 3) where ``where``, the identity
    elsewhere: the histograms of those images alone (usually none)."""
    identity = tf.tile(tf.range(256.0)[None, :, None], [tf.shape(images)[0], 1, 3])

    def some():
        index = tf.where(where)
        tables = _equalize_tables_of(tf.cast(tf.gather_nd(images, index), tf.int32))
        return tf.tensor_scatter_nd_update(identity, index, tables)

    return tf.cond(tf.reduce_any(where), some, lambda: identity)
