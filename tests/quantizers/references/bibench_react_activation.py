"""BiBench's ReAct activation (``react.py``, ``ReActConv2d``): sign(x + b) with the
learnable per-channel ``b`` (read from the quantizer), Bi-Real's gradient at x + b."""

from ._bibench import bireal_grad
from .common import sign


def _shifted(x, quantizer):
    return x + quantizer.threshold.numpy()


def forward(x, quantizer):
    return sign(_shifted(x, quantizer))


def gradient(x, g, quantizer):
    return g * bireal_grad(_shifted(x, quantizer))
