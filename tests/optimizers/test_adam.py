"""Adam's ε where PyTorch adds it, for recipes from PyTorch code; Keras' own elsewhere."""

import math

import numpy as np
import pytest
import tensorflow as tf
from conftest import build_optimizer, resolved

from bnno.optimizers.keras.legacy_adam import Adam


def numpy_adam(p, grads, lr, eps, pytorch, b1=0.9, b2=0.999):
    """Kingma & Ba's Adam: ε added to √v̂ (PyTorch, Algorithm 1) or to √v (Keras' ε̂)."""
    m = v = np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        if pytorch:
            p = p - lr / (1 - b1**t) * m / (np.sqrt(v) / math.sqrt(1 - b2**t) + eps)
        else:
            p = p - lr * math.sqrt(1 - b2**t) / (1 - b1**t) * m / (np.sqrt(v) + eps)
    return p


@pytest.mark.parametrize("pytorch", [True, False])
def test_three_steps_equal_numpy(pytorch):
    rng = np.random.default_rng(0)
    p = rng.normal(size=8)
    # Gradients near ε, where the two forms differ most.
    grads = [rng.normal(size=8) * 10.0 ** rng.integers(-9, -6, size=8) for _ in range(3)]
    var = tf.Variable(p.astype(np.float32))
    opt = Adam(1e-3, epsilon=1e-8, pytorch_epsilon=pytorch)
    for g in grads:
        opt.apply_gradients([(tf.constant(g, tf.float32), var)])
    np.testing.assert_allclose(var.numpy(), numpy_adam(p, grads, 1e-3, 1e-8, pytorch),
                               rtol=1e-6, atol=1e-9)
    other = numpy_adam(p, grads, 1e-3, 1e-8, not pytorch)
    assert np.abs(var.numpy() - other).max() > 1e-5  # the forms really differ here


def test_sets_from_pytorch_code_get_pytorchs_adam():
    opt = build_optimizer(resolved("sibnn_resnet18", "sibnn"), 10)
    assert opt.pytorch_epsilon and opt.epsilon == pytest.approx(1e-8)
    opt = build_optimizer(resolved("binarynet", "default"), 10)  # the Bop paper's TF code
    assert not opt.pytorch_epsilon and opt.epsilon == pytest.approx(1e-7)
