"""BiBench's ReCU weights (``recu.py``, ``ReCUConv2d``): the filter standardised with the
unbiased variance, clamped at Q = −mean|w1|·ln(2 − 2τ) (τ read from the quantizer; 1
before the schedule: no clamp), sign with an identity gradient, times the learnable α per
output channel (read from the quantizer); the gradient runs through the clamp and the
standardisation."""

import numpy as np

from ._bibench import keras_kernel, torch_weight
from .common import sign

AXES = (1, 2, 3)


def _parts(w, quantizer):
    w = torch_weight(w).astype(np.float64)
    tau = float(quantizer.tau.numpy())
    w0 = w - w.mean(AXES, keepdims=True)
    s = np.sqrt(w0.var(AXES, ddof=1, keepdims=True) + 1e-5)
    w1 = w0 / (s / 2 / np.sqrt(2))
    q = np.inf if tau == 1 else -np.abs(w1).mean() * np.log(2 - 2 * tau)
    alpha = quantizer.scale.numpy().reshape(-1, 1, 1, 1)
    return w0, s, w1, q, alpha


def forward(w, quantizer):
    _, _, w1, q, alpha = _parts(w, quantizer)
    return keras_kernel(sign(np.clip(w1, -q, q)) * alpha)


def gradient(w, g, quantizer):
    w0, s, w1, q, alpha = _parts(w, quantizer)
    g = torch_weight(g).astype(np.float64)
    n = np.prod(w0.shape[1:])
    k = 2 * np.sqrt(2)
    g1 = g * alpha * ((w1 >= -q) & (w1 <= q))
    centred = w0 - w0.mean(AXES, keepdims=True)
    gw0 = k / s * g1 - k * (g1 * w0).sum(AXES, keepdims=True) / s**3 * centred / (n - 1)
    return keras_kernel(gw0 - gw0.mean(AXES, keepdims=True))
