"""BiBench's ReCU activation (``recu.py``, ``ReCUConv2d``, ``BinaryQuantize_a``) outside
training (a0 = a): sign(a), gradient g·max(0, 2 − |2a|)."""

import numpy as np

from .common import sign


def forward(x, quantizer):
    return sign(x)


def gradient(x, g, quantizer):
    return g * np.maximum(2 - np.abs(2 * x), 0)
