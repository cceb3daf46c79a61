"""BiBench's FDA weights (``fda.py``, ``FDAConv2d``): (sign(w) + α·NoiseAdaption(w)) ·
mean|w| per output channel (held constant), the MLP on each filter flattened in PyTorch's
order, Fourier-series gradient with n terms (α, n and the MLP read from the quantizer)."""

import numpy as np

from ._bibench import fourier_grad, keras_kernel, mlp_weights, noise_mlp, torch_weight
from .common import sign


def _rows(w):
    return torch_weight(w).reshape(w.shape[-1], -1)


def _noise(rows, grows, quantizer):
    fc = mlp_weights(quantizer)
    if fc is None:  # hidden width 0: the MLP's output is 0
        fc = (0 * rows[:1].T, 0 * rows[:1])
    return noise_mlp(rows, *fc, grows)


def _back(rows, w):
    return keras_kernel(rows.reshape(torch_weight(w).shape))


def forward(w, quantizer):
    rows = _rows(w)
    scale = np.abs(rows).mean(axis=1, keepdims=True)
    alpha = float(quantizer.noise_scale.numpy())
    return _back((sign(rows) + alpha * _noise(rows, 0 * rows, quantizer)[0]) * scale, w)


def gradient(w, g, quantizer):
    rows, grows = _rows(w), _rows(g)
    scale = np.abs(rows).mean(axis=1, keepdims=True)
    alpha, n = float(quantizer.noise_scale.numpy()), int(quantizer.terms.numpy())
    grad = fourier_grad(rows, n) * grows * scale + alpha * _noise(rows, grows * scale,
                                                                  quantizer)[1]
    return _back(grad, w)
