"""BiBench's Bi-Real activation (``bireal.py``, ``BiRealConv2d``): sign(x), gradient of
the piecewise polynomial."""

from ._bibench import bireal_grad
from .common import sign


def forward(x, quantizer):
    return sign(x)


def gradient(x, g, quantizer):
    return g * bireal_grad(x)
