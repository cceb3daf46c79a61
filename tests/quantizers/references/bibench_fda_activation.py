"""BiBench's FDA activation (``fda.py``, ``FDAConv2d``): sign(a) + α·NoiseAdaption_a(a) over
each position's channels, Fourier-series gradient with n terms (α, n and the MLP read from
the quantizer)."""

from ._bibench import fourier_grad, mlp_weights, noise_mlp
from .common import sign


def _noise(x, g, quantizer):
    flat, gflat = x.reshape(-1, x.shape[-1]), g.reshape(-1, x.shape[-1])
    fc = mlp_weights(quantizer)
    if fc is None:  # hidden width 0: the MLP's output is 0
        fc = (0 * flat[:1].T, 0 * flat[:1])
    value, grad = noise_mlp(flat, *fc, gflat)
    return value.reshape(x.shape), grad.reshape(x.shape)


def forward(x, quantizer):
    alpha = float(quantizer.noise_scale.numpy())
    return sign(x) + alpha * _noise(x, 0 * x, quantizer)[0]


def gradient(x, g, quantizer):
    alpha, n = float(quantizer.noise_scale.numpy()), int(quantizer.terms.numpy())
    return fourier_grad(x, n) * g + alpha * _noise(x, g, quantizer)[1]
