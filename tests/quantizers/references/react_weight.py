"""ReActNet's HardBinaryConv weights (liuzechun/ReActNet mobilenet/2_step2/reactnet.py):
α·sign(w) with α = mean |w| per output channel, detached; sign(0) = 0; the gradient of
clamp(w, −1, 1) through ``bw.detach() − clipped.detach() + clipped``: g where
−1 ≤ w ≤ 1."""

import numpy as np

from .common import channel_mean, inside


def forward(w, quantizer):
    return channel_mean(np.abs(w)) * np.sign(w)


def gradient(w, g, quantizer):
    return g * inside(w, 1.0)
