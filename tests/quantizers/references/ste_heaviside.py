"""larq's ste_heaviside: 1 where x > 0 else 0, gradient g where |x| <= 1."""

import numpy as np

from .common import inside


def forward(x, quantizer):
    return (x > 0).astype(np.float32)


def gradient(x, g, quantizer):
    return g * inside(x, 1.0)
