"""Xavier learning-rate scaling of latent binary kernels (BinaryNet's ``W_LR_scale``)."""

import larq as lq
import numpy as np
import pytest
import tensorflow as tf
from conftest import build_optimizer, compile_flat, resolved

from bnno import optimizers
from bnno.config import plan
from bnno.errors import BnnoError
from bnno.optimizers.keras import lr_scaling

LR = 0.01
B1, B2, EPS = 0.9, 0.999, 1e-7  # Keras' Adam defaults, which bnno's Adam keeps
XAVIER = {"optimizer": "adam", "learning_rate": LR, "lr_scaling": "xavier"}


def tiny_model():
    """A 3×2 binary convolution from 4 to 5 channels, batch norm, a binary dense layer
    20 → 3 with a bias, and a real-valued dense layer 3 → 2."""
    binary = {"kernel_quantizer": "ste_sign", "kernel_constraint": "weight_clip"}
    return tf.keras.Sequential([
        lq.layers.QuantConv2D(5, (3, 2), use_bias=False, input_shape=(4, 3, 4), **binary),
        tf.keras.layers.BatchNormalization(),
        tf.keras.layers.Flatten(),
        lq.layers.QuantDense(3, **binary),
        lq.layers.QuantDense(2),
    ])


def glorot_scale(fan_in, fan_out):
    return 1.0 / np.sqrt(1.5 / (fan_in + fan_out))


# kernel area × input channels, kernel area × output channels; dense: inputs, units.
CONV_FACTOR = glorot_scale(3 * 2 * 4, 3 * 2 * 5)
DENSE_FACTOR = glorot_scale(20, 3)


@pytest.mark.slow
def test_factor_of_a_conv_and_a_dense_layer():
    model = tiny_model()
    conv, dense, real = model.layers[0], model.layers[3], model.layers[4]
    factors = lr_scaling.kernel_factors(model)
    assert len(factors) == 2
    assert factors[0][0] is conv.kernel and factors[1][0] is dense.kernel
    assert all(k is not real.kernel for k, _ in factors)  # no quantizer: not scaled
    np.testing.assert_allclose([f for _, f in factors], [CONV_FACTOR, DENSE_FACTOR],
                               rtol=1e-12)
    assert CONV_FACTOR == pytest.approx(6.0)  # sqrt(54 / 1.5)


def numpy_adam(w, grads, factor, clip):
    """Keras' (and Lasagne's) Adam with bias correction folded into the step size and ε
    added to sqrt(v); the step times ``factor``, then the clip to [-1, 1]."""
    w, m, v = w.astype("float64"), 0.0, 0.0
    for t, g in enumerate(grads, start=1):
        m = B1 * m + (1 - B1) * g
        v = B2 * v + (1 - B2) * g * g
        step_size = LR * np.sqrt(1 - B2**t) / (1 - B1**t)
        w = w - factor * step_size * m / (np.sqrt(v) + EPS)
        if clip:
            w = np.clip(w, -1.0, 1.0)
    return w


def start_values(model, rng):
    values = [rng.uniform(-1, 1, v.shape).astype("float32") for v in model.trainable_variables]
    conv = values[0].reshape(-1)
    conv[:4] = [0.99, -0.99, 0.97, -0.97]  # pushed outwards below: the clip must catch them
    return values


def gradients(model, rng):
    grads = [rng.normal(0, 1, v.shape).astype("float32") for v in model.trainable_variables]
    conv = grads[0].reshape(-1)
    conv[:4] = [-1.0, 1.0, -0.5, 0.5]
    conv[4:8] = [3e-8, -1e-7, 0.0, 2e-7]  # |g| near ε: the result depends on ε
    return grads


@pytest.mark.slow
def test_two_adam_steps_scale_only_the_binary_kernels_then_clip():
    model = tiny_model()
    compile_flat(model, XAVIER, steps_per_epoch=1)
    rng = np.random.RandomState(0)
    start = start_values(model, rng)
    for var, value in zip(model.trainable_variables, start, strict=True):
        var.assign(value)
    grads = [gradients(model, rng) for _ in range(2)]
    for step in grads:
        model.optimizer.apply_gradients(
            zip([tf.constant(g) for g in step], model.trainable_variables, strict=True))

    conv, bn, dense, real = (model.layers[i] for i in (0, 1, 3, 4))
    expected = {  # variable -> (factor, clipped)
        conv.kernel.ref(): (CONV_FACTOR, True),
        dense.kernel.ref(): (DENSE_FACTOR, True),
        dense.bias.ref(): (1.0, False),
        bn.gamma.ref(): (1.0, False),
        bn.beta.ref(): (1.0, False),
        real.kernel.ref(): (1.0, False),
        real.bias.ref(): (1.0, False),
    }
    assert len(expected) == len(model.trainable_variables)
    for i, var in enumerate(model.trainable_variables):
        factor, clip = expected[var.ref()]
        want = numpy_adam(start[i], [g[i] for g in grads], factor, clip)
        np.testing.assert_allclose(var.numpy(), want, rtol=1e-5, atol=1e-6, err_msg=var.name)
    got = conv.kernel.numpy().reshape(-1)
    np.testing.assert_array_equal(got[:4], [1.0, -1.0, 1.0, -1.0])
    assert np.abs(got).max() == 1.0 and (np.abs(got) < 1).sum() > 50


@pytest.mark.slow
def test_checkpoints_keep_plain_adams_layout_and_resume_exactly(tmp_path):
    rng = np.random.RandomState(1)
    start = start_values(tiny_model(), rng)
    steps = [gradients(tiny_model(), rng) for _ in range(2)]

    def fresh(hp):
        model = tiny_model()
        compile_flat(model, hp, steps_per_epoch=1)
        for var, value in zip(model.trainable_variables, start, strict=True):
            var.assign(value)
        return model

    def apply(model, grads):
        model.optimizer.apply_gradients(
            zip([tf.constant(g) for g in grads], model.trainable_variables, strict=True))

    through = fresh(XAVIER)
    for grads in steps:
        apply(through, grads)
    first = fresh(XAVIER)
    apply(first, steps[0])
    path = tf.train.Checkpoint(model=first).write(str(tmp_path / "xavier"))
    plain = fresh({**XAVIER, "lr_scaling": "none"})
    apply(plain, steps[0])
    plain_path = tf.train.Checkpoint(model=plain).write(str(tmp_path / "plain"))
    assert tf.train.list_variables(path) == tf.train.list_variables(plain_path)

    resumed = fresh(XAVIER)
    tf.train.Checkpoint(model=resumed).read(path).assert_existing_objects_matched()
    apply(resumed, steps[1])
    for a, b in zip(resumed.weights, through.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert int(resumed.optimizer.iterations.numpy()) == 2


@pytest.mark.slow
def test_xavier_with_bop_fails_at_plan_time():
    with pytest.raises(BnnoError, match="'lr_scaling' is an option of optimizer adam, not of "
                                        "bop; switch with optimizer=adam") as error:
        plan("binarynet", "cifar10", "bop", {"lr_scaling": "xavier"})
    assert "\n" not in str(error.value)
    with pytest.raises(BnnoError, match="optimizer adamw has no option 'lr_scaling'"):
        optimizers.build("adamw", {"learning_rate": LR, "lr_scaling": "xavier"}, 1, 1)


@pytest.mark.slow
def test_sets_choose_the_scaling():
    assert resolved("binarynet", "adam_sec52")["lr_scaling"] == "xavier"
    assert not isinstance(build_optimizer(resolved("binarynet", "default"), 1),
                          lr_scaling.ScaledAdam)
