"""The ``sgd`` optimizer against a NumPy transcription of ``torch.optim.SGD``
(``torch/optim/sgd.py``, ``_single_tensor_sgd``): several steps with a learning rate that
changes, momentum, dampening, Nesterov and coupled weight decay; Keras' own SGD differs
once the rate changes.
"""

import bnno  # noqa: F401

# isort: split

import numpy as np
import pytest
import tensorflow as tf

from bnno import optimizers
from bnno.errors import BnnoError
from bnno.optimizers.keras.sgd import SGD

RATES = [0.1, 0.1, 0.05, 0.05, 0.01, 0.2]  # one per step: a schedule that changes


class Rates(tf.keras.optimizers.schedules.LearningRateSchedule):
    def __call__(self, step):
        return tf.gather(tf.constant(RATES), tf.minimum(tf.cast(step, tf.int32), len(RATES) - 1))

    def get_config(self):
        return {}


def torch_sgd(w, grads, rates, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    """``_single_tensor_sgd`` step by step; returns the weights after every step."""
    w, buf, history = w.astype(np.float64), None, []
    for g, lr in zip(grads, rates, strict=True):
        g = g.astype(np.float64)
        if weight_decay != 0:
            g = g + weight_decay * w
        if momentum != 0:
            if buf is None:
                buf = g.copy()
            else:
                buf = buf * momentum + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        w = w - lr * g
        history.append(w)
    return history


def _grads(steps, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(3, 4)).astype(np.float32) for _ in range(steps)]


SETTINGS = [
    dict(),
    dict(momentum=0.9),
    dict(momentum=0.9, weight_decay=1e-2),
    dict(momentum=0.9, nesterov=True, weight_decay=1e-2),
    dict(momentum=0.5, dampening=0.3),
    dict(weight_decay=0.1),
]


@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: ",".join(s) or "plain")
def test_steps_equal_torch_sgd_under_a_changing_rate(settings):
    w0 = np.random.default_rng(1).normal(size=(3, 4)).astype(np.float32)
    grads = _grads(len(RATES))
    var = tf.Variable(w0)
    opt = SGD(Rates(), **settings)
    want = torch_sgd(w0, grads, RATES, **settings)
    for g, expected in zip(grads, want, strict=True):
        opt.apply_gradients([(tf.constant(g), var)])
        np.testing.assert_allclose(var.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_keras_sgd_differs_once_the_rate_changes():
    w0 = np.ones((3, 4), np.float32)
    grads = _grads(len(RATES))
    want = torch_sgd(w0, grads, RATES, momentum=0.9)
    var = tf.Variable(w0)
    keras = tf.keras.optimizers.legacy.SGD(Rates(), momentum=0.9)
    gaps = []
    for g, expected in zip(grads, want, strict=True):
        keras.apply_gradients([(tf.constant(g), var)])
        gaps.append(np.abs(var.numpy() - expected).max())
    assert max(gaps[:2]) < 1e-6 < min(gaps[2:])  # equal while the rate is 0.1, not after


def test_the_buffer_resumes_from_a_checkpoint(tmp_path):
    w0 = np.zeros((3, 4), np.float32)
    grads = _grads(4)
    want = torch_sgd(w0, grads, RATES[:4], momentum=0.9, dampening=0.5)
    var, opt = tf.Variable(w0), SGD(Rates(), momentum=0.9, dampening=0.5)
    for g in grads[:2]:
        opt.apply_gradients([(tf.constant(g), var)])
    path = tf.train.Checkpoint(var=var, opt=opt).save(str(tmp_path / "ckpt"))
    var2, opt2 = tf.Variable(np.full((3, 4), 7.0, np.float32)), SGD(Rates(), momentum=0.9,
                                                                     dampening=0.5)
    opt2.apply_gradients([(tf.zeros((3, 4)), var2)])  # create the slot, then restore it
    tf.train.Checkpoint(var=var2, opt=opt2).restore(path)
    for g in grads[2:]:
        opt2.apply_gradients([(tf.constant(g), var2)])
    np.testing.assert_allclose(var2.numpy(), want[-1], rtol=1e-5, atol=1e-6)


def test_the_registry_builds_it_with_its_keys():
    options = {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-4}
    opt = optimizers.build("sgd", options, 10, 100)
    assert (type(opt), opt.momentum, opt.nesterov, opt.weight_decay, opt.dampening) == \
        (SGD, 0.9, True, 1e-4, 0.0)
    config = SGD.from_config(opt.get_config()).get_config()
    assert config == opt.get_config()


def test_a_model_trains_with_it():
    model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(2)])
    model.compile(SGD(0.1, momentum=0.9, weight_decay=1e-4), "mse")
    before = [w.copy() for w in model.get_weights()]
    model.fit(np.ones((8, 4)), np.zeros((8, 2)), epochs=2, batch_size=4, verbose=0)
    assert all(np.any(a != b) for a, b in zip(before, model.get_weights(), strict=True))


@pytest.mark.parametrize("settings, message", [
    (dict(nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
    (dict(momentum=0.9, nesterov=True, dampening=0.1), "Nesterov momentum requires"),
])
def test_bad_settings_fail_in_one_line(settings, message):
    with pytest.raises(BnnoError, match=message) as error:
        optimizers.build("sgd", {"learning_rate": 0.1, **settings}, 10, 100)
    assert "\n" not in str(error.value)
