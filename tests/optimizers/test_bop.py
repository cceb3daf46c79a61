"""Bop through bnno's optimizer factory: the flip rule, schedules, the Adam split."""

import larq as lq
import numpy as np
import pytest
import tensorflow as tf
from conftest import build_flat, build_optimizer, compile_flat, resolved

from bnno import optimizers
from bnno.config.kernels import kernel_settings

W = np.array([[1.0, 1.0, -1.0, -1.0, 1.0, -1.0]], dtype="float32")


def bop_hp(**kw):
    return {"optimizer": "bop", "threshold": 0.5, "gamma": 1.0, "learning_rate": 0.01,
            "kernel_quantizer": None, "kernel_constraint": None, **kw}


def binary_and_real_vars():
    kernel = tf.Variable(W)
    kernel.precision = 1  # what NoOp(precision=1) sets on a layer's kernel
    beta = tf.Variable(np.zeros(6, "float32"))
    return kernel, beta


def step(opt, kernel, beta, grad):
    opt.apply_gradients([(tf.constant(grad, tf.float32), kernel),
                         (tf.constant(np.ones(6), tf.float32), beta)])


def test_flips_exactly_where_ema_exceeds_threshold_with_the_weights_sign():
    kernel, beta = binary_and_real_vars()
    opt = build_optimizer(bop_hp(), 10)
    # gamma = 1, so m equals the gradient: flip iff |g| > 0.5 and sign(g) == sign(w).
    grad = [[0.9, 0.2, -0.9, 0.9, -0.9, -0.4]]
    step(opt, kernel, beta, grad)
    expected = W * np.array([[-1, 1, -1, 1, 1, 1]])
    np.testing.assert_array_equal(kernel.numpy(), expected)
    # Adam, not Bop, trained the real-valued variable (lr 0.01, first step moves ~lr).
    np.testing.assert_allclose(beta.numpy(), -0.01, rtol=1e-3)


def test_tie_at_the_threshold_sets_plus_one():
    # larq computes sign(-sign(w*m - τ) * w) with sign(0) = +1: where w*m == τ exactly the
    # weight becomes +1 whatever it was (the paper writes both > and >= for this case).
    kernel, beta = binary_and_real_vars()
    opt = build_optimizer(bop_hp(), 10)
    step(opt, kernel, beta, [[0.5, 0.0, 0.0, 0.0, 0.0, -0.5]])
    np.testing.assert_array_equal(kernel.numpy(), [[1, 1, -1, -1, 1, 1]])


def test_moving_average_accumulates_weak_signals():
    kernel, beta = binary_and_real_vars()
    opt = build_optimizer(bop_hp(gamma=0.5, threshold=0.6), 10)
    grad = [[0.8, 0.8, 0.0, 0.0, 0.0, 0.0]]
    step(opt, kernel, beta, grad)  # m = 0.4: below τ, nothing flips
    np.testing.assert_array_equal(kernel.numpy(), W)
    step(opt, kernel, beta, grad)  # m = 0.6: still not > τ
    np.testing.assert_array_equal(kernel.numpy(), W)
    step(opt, kernel, beta, grad)  # m = 0.7 > τ: the two positive weights flip
    np.testing.assert_array_equal(kernel.numpy()[0, :2], [-1.0, -1.0])
    np.testing.assert_array_equal(kernel.numpy()[0, 2:], W[0, 2:])


def test_gamma_schedule_reaches_the_optimizer():
    # gamma 1.0 at step 0, then 0.01 from step 1 on (staircase decay every step).
    gamma = {"schedule": "exponential_decay", "initial": 1.0, "decay_steps": 1,
             "decay_rate": 0.01, "staircase": True}
    kernel, beta = binary_and_real_vars()
    opt = build_optimizer(bop_hp(gamma=gamma, threshold=0.5), 10)
    step(opt, kernel, beta, [[0.0] * 6])  # m = 0 after a step at gamma 1
    step(opt, kernel, beta, [[0.9] * 6])  # gamma 0.01: m = 0.009, no flip
    np.testing.assert_array_equal(kernel.numpy(), W)
    assert optimizers.step_count(opt) == 2
    # Without the schedule the same two steps flip every positive weight.
    kernel2, beta2 = binary_and_real_vars()
    opt2 = build_optimizer(bop_hp(gamma=1.0, threshold=0.5), 10)
    step(opt2, kernel2, beta2, [[0.0] * 6])
    step(opt2, kernel2, beta2, [[0.9] * 6])
    assert (kernel2.numpy() == -1).all()


def test_threshold_schedule_in_epochs():
    threshold = {"schedule": "piecewise_constant", "boundary_epochs": [1], "values": [10.0, 0.0]}
    kernel, beta = binary_and_real_vars()
    opt = build_optimizer(bop_hp(threshold=threshold), 2)
    for _ in range(2):  # epoch 1: τ = 10, nothing flips
        step(opt, kernel, beta, [[0.9] * 6])
    np.testing.assert_array_equal(kernel.numpy(), W)
    step(opt, kernel, beta, [[0.9] * 6])  # epoch 2: τ = 0
    assert (kernel.numpy() == -1).all()


def test_sec52_gamma_decays_tenfold_every_100_epochs_of_batch_50():
    from bnno import schedules

    hp = resolved("binarynet", "bop_sec52")
    gamma = schedules.build(hp["gamma"], steps_per_epoch=1000)
    values = [float(gamma(s)) for s in (0, 99_999, 100_000, 200_000)]
    np.testing.assert_allclose(values, [1e-4, 1e-4, 1e-5, 1e-6], rtol=1e-5)


@pytest.mark.slow
def test_bop_model_kernels_are_real_before_and_plus_minus_one_after_steps():
    hp = {**bop_hp(threshold=1e-6, gamma=1e-3), "filters": 4, "dense_units": 8,
          "kernel_size": 3}
    model = build_flat("binarynet", hp, (32, 32, 3), 10)
    compile_flat(model, hp, steps_per_epoch=3)
    kernels = optimizers.binary_kernels(model)
    assert len(kernels) == 9  # 6 convolutions + 3 dense layers, the first one included
    before = [k.numpy().copy() for k in kernels]
    for k in before:  # the initialiser's real draw, as the Bop code starts
        assert len(np.unique(k)) > 2 and np.abs(k).max() < 1
    x = np.random.RandomState(0).uniform(-1, 1, (24, 32, 32, 3)).astype("float32")
    y = tf.one_hot(np.arange(24) % 10, 10)
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    flipped = 0
    for k, b in zip(kernels, before, strict=True):
        assert set(np.unique(k.numpy())) <= {-1.0, 1.0}
        flipped += int((k.numpy() != np.where(b < 0, -1.0, 1.0)).sum())
    assert flipped > 0
    # larq's flip ratio, one per binary layer, named after the layer.
    ratios = {k: v for k, v in history.history.items() if k.startswith("flip_ratio/")}
    assert len(ratios) == 9
    assert any(v[0] > 0 for v in ratios.values())


def test_bop_refuses_a_kernel_quantizer():
    from bnno.errors import BnnoError

    with pytest.raises(BnnoError, match="kernel_quantizer must be none or channel_scale"):
        kernel_settings(bop_hp(kernel_quantizer="ste_sign"), "bop")


def test_adam_kernels_are_latent_and_quantized():
    settings = kernel_settings({"kernel_quantizer": "ste_sign"}, "adam")
    q = lq.quantizers.get(settings["kernel_quantizer"])
    assert isinstance(q, lq.quantizers.SteSign)
    assert getattr(q, "precision", None) == 1
