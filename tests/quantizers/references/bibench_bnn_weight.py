"""BiBench's BNN weights (``bnn.py``, ``BNNConv2d``): sign(w), gradient of the clamp."""

from ._bibench import clamp_grad
from .common import sign


def forward(w, quantizer):
    return sign(w)


def gradient(w, g, quantizer):
    return g * clamp_grad(w)
