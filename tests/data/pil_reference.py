"""Plain-Python transcriptions of what the PyTorch loaders run, for the tests of
``bnno.data.resize``, ``bnno.data.crops`` and the preprocessing built on them.

- ``pil_resize``: Pillow's ``Image.resize`` of 8-bit images (``libImaging/Resample.c``:
  ``precompute_coeffs``, ``normalize_coeffs_8bpc``, the 8-bpc horizontal and vertical
  passes, ``ImagingResampleInner`` running the horizontal pass first), as Pillow 4 to 12
  compute it, in Python integers and doubles.
- ``timm_crop``: timm 0.6.11's ``RandomResizedCropAndInterpolation.get_params``
  (``timm/data/transforms.py``), with its ``random.uniform`` calls fed from a list of
  uniform draws and ``random.randint(0, n)`` as ``floor(u · (n + 1))``.
"""

from __future__ import annotations

import math

import numpy as np

PRECISION_BITS = 32 - 8 - 2


def bicubic(x: float) -> float:
    a = -0.5
    x = abs(x)
    if x < 1.0:
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1
    if x < 2.0:
        return (((x - 5) * x + 8) * x - 4) * a
    return 0.0


def bilinear(x: float) -> float:
    x = abs(x)
    return 1.0 - x if x < 1.0 else 0.0


FILTERS = {"bicubic": (2.0, bicubic), "bilinear": (1.0, bilinear)}


def coefficients(in_size: int, out_size: int, kind: str) -> list[tuple[int, list[int]]]:
    """Per output index: (first input index, fixed-point weights)."""
    support, kernel = FILTERS[kind]
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support *= filterscale
    out = []
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size) - xmin
        weights = [kernel((x + xmin - center + 0.5) * (1.0 / filterscale)) for x in range(xmax)]
        total = 0.0
        for w in weights:
            total += w
        if total != 0.0:
            weights = [w / total for w in weights]
        out.append((xmin, [int(-0.5 + w * (1 << PRECISION_BITS)) if w < 0
                           else int(0.5 + w * (1 << PRECISION_BITS)) for w in weights]))
    return out


def _pass(image: np.ndarray, coeffs, axis: int) -> np.ndarray:
    image = np.moveaxis(image.astype(np.int64), axis, 0)
    out = np.empty((len(coeffs),) + image.shape[1:], np.int64)
    for i, (xmin, weights) in enumerate(coeffs):
        total = np.full(image.shape[1:], 1 << (PRECISION_BITS - 1), np.int64)
        for t, w in enumerate(weights):
            total += image[xmin + t] * w
        out[i] = np.clip(total >> PRECISION_BITS, 0, 255)
    return np.moveaxis(out, 0, axis)


def pil_resize(image: np.ndarray, height: int, width: int, kind: str = "bicubic") -> np.ndarray:
    """Pillow's ``Image.fromarray(image).resize((width, height), kind)``."""
    h, w = image.shape[:2]
    out = image.astype(np.int64)
    if width != w:
        out = _pass(out, coefficients(w, width, kind), 1)
    if height != h:
        out = _pass(out, coefficients(h, height, kind), 0)
    return out


def timm_crop(height: int, width: int, draws, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
    """(top, left, height, width) as timm's get_params returns (i, j, h, w)."""
    area = height * width
    for attempt in range(10):
        target_area = (scale[0] + (scale[1] - scale[0]) * draws[attempt]) * area
        log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
        aspect_ratio = math.exp(log_ratio[0] + (log_ratio[1] - log_ratio[0])
                                * draws[10 + attempt])
        w = int(round(math.sqrt(target_area * aspect_ratio)))
        h = int(round(math.sqrt(target_area / aspect_ratio)))
        if w <= width and h <= height:
            i = math.floor(draws[20] * (height - h + 1))
            j = math.floor(draws[21] * (width - w + 1))
            return i, j, h, w
    in_ratio = width / height
    if in_ratio < min(ratio):
        w = width
        h = int(round(w / min(ratio)))
    elif in_ratio > max(ratio):
        h = height
        w = int(round(h * max(ratio)))
    else:
        w = width
        h = height
    return (height - h) // 2, (width - w) // 2, h, w


def timm_crop_random(height: int, width: int, rng, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)):
    """timm's get_params itself, drawing from ``rng`` (a ``random.Random``) as timm draws
    from Python's random module."""
    area = height * width
    for _ in range(10):
        target_area = rng.uniform(*scale) * area
        log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
        aspect_ratio = math.exp(rng.uniform(*log_ratio))
        w = int(round(math.sqrt(target_area * aspect_ratio)))
        h = int(round(math.sqrt(target_area / aspect_ratio)))
        if w <= width and h <= height:
            return rng.randint(0, height - h), rng.randint(0, width - w), h, w
    return timm_crop(height, width, [1.0] * 22, scale, ratio)  # the fallback
