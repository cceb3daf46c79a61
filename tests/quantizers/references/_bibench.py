"""Pieces of BiBench's binarizers (htqin/BiBench, ``bibench/models/layers/*.py``, the
``Conv2d`` forms) that several transcriptions share. Keras kernels are (kh, kw, in, out),
the official weights (out, in, kh, kw)."""

import numpy as np

from .common import sign


def clamp_grad(x):
    """Gradient of ``torch.clamp(x, -1, 1)`` as PyTorch 1.x gives it: 1 on [-1, 1]."""
    return ((x >= -1) & (x <= 1)).astype(np.float64)


def sample_mean_abs(x):
    """``XNORConv2d``'s activation scale: mean |x| over (C, H, W), per sample."""
    return np.abs(x).mean(axis=tuple(range(1, x.ndim)), keepdims=True)


def filter_mean_abs(w):
    """``XNORConv2d``'s weight scale: mean |w| over each output channel's filter."""
    return np.abs(w).mean(axis=tuple(range(w.ndim - 1)), keepdims=True)


def scaled_sign(w):
    return filter_mean_abs(w) * sign(w)


def bireal_grad(x):
    """``BiRealConv2d``'s piecewise polynomial, differentiated piece by piece."""
    m1, m2, m3 = (x < -1).astype(float), (x < 0).astype(float), (x < 1).astype(float)
    d1 = (2 * x + 2) * (1 - m1)
    d2 = d1 * m2 + (-2 * x + 2) * (1 - m2)
    return d2 * m3


def fourier_grad(x, n):
    """``FDA_BinaryQuantize.backward`` (ω = 0.1), without the upstream gradient."""
    total = sum(np.cos((2 * i + 1) * 0.1 * x) for i in range(n + 1))
    return np.where((x > 1) | (x < -1), 0.0, 4 * 0.1 / np.pi * total)


def torch_weight(w):
    """Keras kernel (kh, kw, in, out) -> PyTorch weight (out, in, kh, kw)."""
    return np.transpose(w, (3, 2, 0, 1))


def keras_kernel(w):
    return np.transpose(w, (2, 3, 1, 0))


def noise_mlp(v, fc1, fc2, g):
    """``NoiseAdaption(_a)`` on the rows of ``v`` (weights as Keras kernels, ``W.T``): its
    value and the gradient of ``v`` for the upstream ``g``."""
    hidden = v @ fc1
    value = np.maximum(hidden, 0) @ fc2 + 0.1 * np.sin(v)
    g_hidden = (g @ fc2.T) * (hidden > 0)
    return value, g_hidden @ fc1.T + 0.1 * np.cos(v) * g


def mlp_weights(quantizer):
    """The quantizer's noise MLP as (fc1, fc2), or zero matrices for a hidden width of 0
    (an MLP whose output is 0, as PyTorch's zero-size ``nn.Linear`` gives)."""
    if getattr(quantizer, "hidden", 0):
        return quantizer.fc1.numpy(), quantizer.fc2.numpy()
    return None
