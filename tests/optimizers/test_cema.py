"""CEMA through bnno's optimizer factory: six steps equal a NumPy transcription of the
official ``optimizers/cema_optimizer.py`` (jorisquist/Understanding-WM-HP-in-BNNs), with α
decayed per epoch as its step-2 script decays it; the slots save and restore exactly;
Adam trains the rest."""

import numpy as np
import pytest
import tensorflow as tf
from conftest import overrides

from bnno import optimizers
from bnno.optimizers.keras.cema import Cema
from bnno.schedules.linear_epochs import LinearEpochs


def reference(params, grads, alpha0, gamma, lr):
    """The official ``step`` on a list of ±1 params, step by step: ``alpha =
    initial_alpha · lr(t)``; per param ``m.mul_(1 − γ).add_(g, alpha=γ)``,
    ``v.mul_(1 − α).add_(m, alpha=α)``; then ``flip_mask = v · w > 0`` over all params
    and ``w[flip] *= −1``. Returns the params and both buffers."""
    w = [p.astype(np.float64).copy() for p in params]
    m = [np.zeros_like(p) for p in w]
    v = [np.zeros_like(p) for p in w]
    for t, step_grads in enumerate(grads):
        alpha = alpha0 * lr(t)
        for i, g in enumerate(step_grads):
            m[i] = m[i] * (1 - gamma) + gamma * g
            v[i] = v[i] * (1 - alpha) + alpha * m[i]
        flat_v = np.concatenate([x.ravel() for x in v])
        flat_w = np.concatenate([x.ravel() for x in w])
        flip = flat_v * flat_w > 0
        start = 0
        for p in w:
            mask = flip[start:start + p.size].reshape(p.shape)
            p[mask] *= -1
            start += p.size
    return w, m, v


def data(steps=6, seed=0):
    rng = np.random.default_rng(seed)
    params = [np.where(rng.random(s) < 0.5, -1.0, 1.0).astype("float32")
              for s in ((3, 3, 2, 4), (5, 3))]
    # Gradients with a drift, so that the cascade accumulates over the steps.
    grads = [[(rng.normal(size=p.shape) + 0.4 * t * np.sign(rng.normal(size=p.shape)))
              .astype("float32") for p in params] for t in range(steps)]
    return params, grads


def binary_variables(params):
    out = []
    for p in params:
        var = tf.Variable(p)
        var.precision = 1  # what NoOp(precision=1) sets on a layer's kernel
        out.append(var)
    return out


def run(opt, variables, real, grads):
    for step_grads in grads:
        pairs = [(tf.constant(g), v) for g, v in zip(step_grads, variables, strict=True)]
        opt.apply_gradients(pairs + [(tf.ones_like(real), real)])


# Epoch-wise decay of α as the official script drives it: LambdaLR(1 − e/E) stepped at
# the end of each epoch; 2 steps per epoch, 3 epochs.
def epoch_factor(t, steps_per_epoch=2, epochs=3):
    return 1 - (t // steps_per_epoch) / epochs


@pytest.mark.slow
@pytest.mark.parametrize("alpha0, gamma", [(0.3, 0.5), (0.05, 0.2)])
def test_six_steps_equal_the_official_rule_with_alpha_decayed_per_epoch(alpha0, gamma):
    params, grads = data()
    variables = binary_variables(params)
    real = tf.Variable(np.zeros(3, "float32"))
    opt = optimizers.build("cema", {"alpha": 1.0, "gamma": gamma, "learning_rate": 0.01},
                           2, 6)
    # The set's alpha schedule: α0 · (1 − e/E), as LinearEpochs(offset=0) gives it.
    cema = opt.optimizers[0]
    cema._set_hyper("alpha", LinearEpochs(alpha0, epochs=3, steps_per_epoch=2))
    run(opt, variables, real, grads)
    w, m, v = reference(params, grads, alpha0, gamma, epoch_factor)
    for var, expected, m_ref, v_ref in zip(variables, w, m, v, strict=True):
        np.testing.assert_array_equal(var.numpy(), expected)
        np.testing.assert_allclose(cema.get_slot(var, "momentum").numpy(), m_ref, rtol=1e-5,
                                   atol=1e-7)
        np.testing.assert_allclose(cema.get_slot(var, "inertia").numpy(), v_ref, rtol=1e-5,
                                   atol=1e-7)
    flipped = np.concatenate([(e != p).ravel() for e, p in zip(w, params, strict=True)])
    assert 0 < flipped.mean() < 1  # some weights flipped, not all
    assert optimizers.step_count(opt) == len(grads)
    np.testing.assert_allclose(real.numpy(), -0.01 * len(grads), rtol=1e-2)  # Adam's


def test_a_weight_flips_when_the_filtered_gradient_has_its_sign():
    # α = γ = 1: v = g. Gradient descent would move w against g: a +1 weight with a
    # positive gradient becomes −1; one with a negative gradient stays.
    w = binary_variables([np.array([1.0, 1.0, -1.0, -1.0], "float32")])[0]
    Cema(alpha=1.0, gamma=1.0).apply_gradients([(tf.constant([0.2, -0.2, 0.2, -0.2]), w)])
    np.testing.assert_array_equal(w.numpy(), [-1.0, 1.0, -1.0, 1.0])


def test_a_resumed_optimizer_continues_exactly_where_it_stopped(tmp_path):
    params, grads = data(seed=1)

    def fresh():
        variables = binary_variables(params)
        real = tf.Variable(np.zeros(3, "float32"))
        opt = optimizers.build("cema", {"alpha": 0.2, "gamma": 0.3, "learning_rate": 0.01},
                               2, 6)
        return variables, real, opt

    through, real_through, opt_through = fresh()
    run(opt_through, through, real_through, grads)

    variables, real, opt = fresh()
    run(opt, variables, real, grads[:3])
    path = tf.train.Checkpoint(variables=variables, real=real, opt=opt).write(
        str(tmp_path / "c"))
    variables2, real2, opt2 = fresh()
    # Slots exist once the optimizer has seen its variables; then the checkpoint fills them.
    opt2.apply_gradients([(tf.zeros_like(v), v) for v in [*variables2, real2]])
    tf.train.Checkpoint(variables=variables2, real=real2, opt=opt2).read(path).assert_consumed()
    cema, cema2 = opt.optimizers[0], opt2.optimizers[0]
    for var, var2 in zip(variables, variables2, strict=True):
        for slot in ("momentum", "inertia"):
            np.testing.assert_array_equal(cema2.get_slot(var2, slot).numpy(),
                                          cema.get_slot(var, slot).numpy())
    assert optimizers.step_count(opt2) == 3
    run(opt2, variables2, real2, grads[3:])
    for var, var2 in zip(through, variables2, strict=True):
        np.testing.assert_array_equal(var2.numpy(), var.numpy())
    np.testing.assert_array_equal(real2.numpy(), real_through.numpy())


def test_its_config_round_trips_with_a_schedule():
    opt = Cema(alpha=LinearEpochs(1e-5, 256, 2502), gamma=1e-3)
    again = Cema.from_config(opt.get_config(), custom_objects={"LinearEpochs": LinearEpochs})
    assert again.get_config() == opt.get_config()


@pytest.mark.slow
def test_reactnet_a_trains_its_plain_sign_kernels_with_cema():
    from bnno.config.plan import check_set
    from bnno.training.build import build_model, compile_model

    checked = check_set("reactnet_a", "cema", overrides("alpha=0.5,gamma=0.5,"
                                                        "width_multiplier=0.0625"))
    tf.keras.utils.set_random_seed(0)
    net = build_model(checked.model, "cema", (32, 32, 3), 10)
    compile_model(net, checked.optimizer, 1, 1)
    kernels = optimizers.binary_kernels(net)
    assert len(kernels) == 31  # every binary convolution, nothing else
    before = [k.numpy().copy() for k in kernels]
    assert all(set(np.unique(b)) == {-1.0, 1.0} for b in before)  # signs of U(±1e-3)
    x = np.random.default_rng(0).normal(size=(4, 32, 32, 3)).astype("float32")
    net.run_eagerly = True  # one step: tracing would cost more than running it
    net.train_on_batch(x, tf.keras.utils.to_categorical([0, 1, 2, 3], 10))
    after = np.concatenate([k.numpy().ravel() for k in kernels])
    assert set(np.unique(after)) == {-1.0, 1.0}
    assert (after != np.concatenate([b.ravel() for b in before])).any()
