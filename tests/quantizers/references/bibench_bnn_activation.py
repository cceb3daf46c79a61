"""BiBench's BNN activation (``bnn.py``, ``BNNConv2d``): sign(x), gradient of the clamp."""

from ._bibench import clamp_grad
from .common import sign


def forward(x, quantizer):
    return sign(x)


def gradient(x, g, quantizer):
    return g * clamp_grad(x)
