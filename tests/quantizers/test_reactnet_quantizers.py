"""ReActNet's binarizers against NumPy transcriptions of the official code
(liuzechun/ReActNet ``mobilenet/2_step2/reactnet.py``: ``BinaryActivation`` and
``HardBinaryConv``), boundaries included: values and gradients."""

import bnno  # noqa: F401

# isort: split

import numpy as np
import tensorflow as tf

from bnno import quantizers


def binary_activation(x):
    """Forward value and d(out)/dx of ``BinaryActivation``, mask by mask as the code."""
    mask1, mask2, mask3 = x < -1, x < 0, x < 1
    # out1 = -1·mask1 + (x² + 2x)·(1 − mask1), and so on: the gradient of each piece.
    d1 = np.where(mask1, 0.0, 2 * x + 2)
    d2 = np.where(mask2, d1, -2 * x + 2)
    d3 = np.where(mask3, d2, 0.0)
    return np.sign(x), d3


def hard_binary_conv(weights_oihw):
    """Forward kernel and d(kernel)/dw of ``HardBinaryConv`` on an OIHW kernel: scale =
    mean |w| over dims 3, 2, 1 (detached), sign(w); gradient of clamp(w, -1, 1) with
    PyTorch's subgradient 1 at the bounds."""
    scale = np.abs(weights_oihw).mean(axis=(1, 2, 3), keepdims=True)
    inside = (weights_oihw >= -1) & (weights_oihw <= 1)
    return scale * np.sign(weights_oihw), inside.astype(np.float32)


def run(role, name, x, upstream):
    quantizer = tf.keras.utils.deserialize_keras_object(
        quantizers.resolve(name, role), custom_objects=None)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = quantizer(xt)
        loss = tf.reduce_sum(y * upstream)
    return y.numpy(), tape.gradient(loss, xt).numpy()


def test_react_sign_equals_binary_activation_at_every_piece_and_boundary():
    x = np.concatenate([np.array([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, -1e-7, 1e-7]),
                        np.random.default_rng(0).uniform(-1.5, 1.5, 200)]).astype(np.float32)
    g = np.random.default_rng(1).normal(size=x.shape).astype(np.float32)
    y, grad = run("activation", "react_sign", x, g)
    forward, derivative = binary_activation(x.astype(np.float64))
    np.testing.assert_array_equal(y, forward)
    assert y[3] == 0  # torch.sign(0) = 0
    np.testing.assert_allclose(grad, g * derivative, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(grad[[0, 1, 5, 6]], 0)


def test_react_weight_equals_hard_binary_conv():
    rng = np.random.default_rng(2)
    oihw = rng.normal(scale=0.8, size=(5, 4, 3, 3)).astype(np.float32)
    oihw.flat[:6] = [1.0, -1.0, 0.0, 1.5, -1.5, 0.999]  # bounds, a zero, outside, inside
    upstream = rng.normal(size=oihw.shape).astype(np.float32)
    hwio = oihw.transpose(2, 3, 1, 0)  # Keras' kernel layout
    y, grad = run("kernel", "react_weight", hwio, upstream.transpose(2, 3, 1, 0))
    forward, derivative = hard_binary_conv(oihw.astype(np.float64))
    np.testing.assert_allclose(y, forward.transpose(2, 3, 1, 0), rtol=1e-6)
    np.testing.assert_array_equal(grad, (upstream * derivative).transpose(2, 3, 1, 0))
    assert y.transpose(3, 2, 0, 1).flat[2] == 0  # sign(0) = 0
    assert derivative.flat[0] == derivative.flat[1] == 1  # w = ±1: the clamp passes it


def test_react_weight_of_plus_minus_one_kernels_is_the_kernel():
    # The re-uploaded official models store ±1: α = 1, so the forward pass is the kernel.
    kernel = np.where(np.random.default_rng(3).random((3, 3, 4, 6)) < 0.5, -1.0, 1.0)
    y, _ = run("kernel", "react_weight", kernel.astype(np.float32), np.ones(kernel.shape))
    np.testing.assert_array_equal(y, kernel)


def test_react_weight_counts_sign_flips():
    q = quantizers.resolve({"name": "react_weight", "metrics": ["flip_ratio"]}, "kernel")
    quantizer = tf.keras.utils.deserialize_keras_object(q)
    quantizer(tf.constant([[0.2, -0.1]]))
    quantizer(tf.constant([[0.1, 0.1]]))  # one of two signs changed; |α| < 1 everywhere
    assert float(quantizer.flip_ratio.result()) == 0.5
