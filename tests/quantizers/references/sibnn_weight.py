"""Si-BNN's weight binarizer (peiswang/SiBNN util.py BinOp): α·sign(w), α = mean |w| per
output channel; gradient g·1[|w| <= 1]·(1 − 1/n) + sign(w)·mean(sign(w)·g)."""

import numpy as np

from .common import channel_mean, inside


def forward(w, quantizer):
    return channel_mean(np.abs(w)) * np.sign(w)


def gradient(w, g, quantizer):
    n = w.size // w.shape[-1]
    s = np.sign(w)
    return g * inside(w, 1.0) * (1 - 1 / n) + s * channel_mean(s * g)
