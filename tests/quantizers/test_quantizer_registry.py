"""Every registered quantizer: its forward values and gradients equal an independent NumPy
transcription of its rule, its config round-trips, and specs resolve or fail in one line.

A quantizer registered without a reference here fails ``test_every_quantizer_has_a_reference``:
adding a quantizer means adding its rule below.
"""

import bnno  # noqa: F401

# isort: split

import larq as lq
import numpy as np
import pytest
import tensorflow as tf

from bnno import quantizers
from bnno.errors import BnnoError
from bnno.models.binarynet import binarynet


def _sign(x):  # larq's sign: 0 -> +1
    return np.where(x >= 0, 1.0, -1.0)


def _inside(x, clip):
    return (np.abs(x) <= clip).astype(np.float32)


def _channel_mean(x):  # per output channel: every axis but the last
    return x.reshape(-1, x.shape[-1]).mean(axis=0)


def swish_grad(x, beta=5.0):
    bx = beta * x
    return beta * (2 - bx * np.tanh(bx / 2)) / (1 + np.cosh(bx))


def sibnn_weight_grad(w, g):
    n = w.size // w.shape[-1]
    s = np.sign(w)
    return g * _inside(w, 1.0) * (1 - 1 / n) + s * _channel_mean(s * g)


def xnor_weight(w):
    c = np.clip(w, -1, 1)
    return _channel_mean(np.abs(c)) * _sign(c)


def xnor_weight_grad(w, g):
    c = np.clip(w, -1, 1)
    s = _sign(c)
    return _inside(w, 1.0) * (_channel_mean(np.abs(c)) * g + s * _channel_mean(s * g))


# name -> (forward(x), gradient(x, upstream g)), from the papers' codes and larq's docs.
REFERENCES = {
    "ste_sign": (_sign, lambda x, g: g * _inside(x, 1.0)),
    "approx_sign": (_sign, lambda x, g: g * _inside(x, 1.0) * (2 - 2 * np.abs(x))),
    "swish_sign": (_sign, lambda x, g: g * swish_grad(x)),
    "ste_heaviside": (lambda x: (x > 0).astype(np.float32), lambda x, g: g * _inside(x, 1.0)),
    "magnitude_aware_sign": (lambda w: _channel_mean(np.abs(w)) * _sign(w),
                             lambda w, g: g * _channel_mean(np.abs(w)) * _inside(w, 1.0)),
    "bnext_sign": (np.sign, lambda x, g: g * _inside(x, 1.5)),
    # temperature 1 (its start): clip(w / 1, -1, 1), identity gradient
    "bnext_weight": (lambda w: np.clip(w, -1, 1), lambda w, g: g),
    # theta 0, 1/Delta 1 (their initial values), rho 0.3
    "sibnn": (lambda x: (x > 0).astype(np.float32),
              lambda x, g: g * ((x > -0.3) & (x < 1.0)).astype(np.float32)),
    "sibnn_weight": (lambda w: _channel_mean(np.abs(w)) * np.sign(w), sibnn_weight_grad),
    "xnor_weight": (xnor_weight, xnor_weight_grad),
    # α at its start (1 per channel): α·w, gradient α·g
    "channel_scale": (lambda w: w, lambda w, g: g),
    # ReActNet's BinaryActivation and HardBinaryConv (liuzechun/ReActNet)
    "react_sign": (np.sign, lambda x, g: g * np.maximum(2 - 2 * np.abs(x), 0)),
    "react_weight": (lambda w: _channel_mean(np.abs(w)) * np.sign(w),
                     lambda w, g: g * _inside(w, 1.0)),
}


def _values(shape, seed):
    # Away from every kink (0, ±1, ±1.5, -0.3) by at least 0.01, so float32 cannot
    # put a value on the other side of one.
    x = np.random.default_rng(seed).uniform(-2, 2, shape).astype(np.float32)
    for kink in (0.0, 1.0, -1.0, 1.5, -1.5, -0.3):
        near = np.abs(x - kink) < 0.01
        x[near] = kink + 0.02
    return x


def _run(config, x, g):
    quantizer = lq.quantizers.get(config)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = quantizer(xt)
        loss = tf.reduce_sum(y * g)
    return y.numpy(), tape.gradient(loss, xt).numpy(), quantizer


def test_every_quantizer_has_a_reference():
    assert set(quantizers.names()) == set(REFERENCES)


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_forward_and_gradient_equal_numpy(name):
    role = quantizers.get(name).roles[0]
    shape = (3, 3, 4, 5) if role == "kernel" else (2, 6, 6, 5)
    x, g = _values(shape, 0), _values(shape, 1)
    y, grad, _ = _run(quantizers.resolve(name, role), x, g)
    forward, gradient = REFERENCES[name]
    np.testing.assert_allclose(y, forward(x), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(grad, gradient(x, g), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_config_round_trips(name):
    entry = quantizers.get(name)
    config = quantizers.resolve(name, entry.roles[0])
    quantizer = lq.quantizers.get(config)
    again = type(quantizer).from_config(quantizer.get_config())
    assert again.get_config() == quantizer.get_config()
    assert type(lq.quantizers.get(tf.keras.utils.serialize_keras_object(quantizer))) is entry.cls
    x = _values((4, 3), 2)
    np.testing.assert_array_equal(quantizer(x).numpy(), again(x).numpy())


def test_options_reach_the_quantizer():
    y, grad, q = _run(quantizers.resolve({"name": "sibnn", "rho": 0.5}, "activation"),
                      np.array([-0.4, -0.2, 0.5], np.float32), np.ones(3, np.float32))
    assert q.rho == 0.5
    np.testing.assert_array_equal(grad, [1, 1, 1])  # -0.4 is inside a window of 0.5
    _, grad, _ = _run(quantizers.resolve({"name": "ste_sign", "clip_value": 2.0}, "kernel"),
                      np.array([[1.5], [2.5]], np.float32), np.ones((2, 1), np.float32))
    np.testing.assert_array_equal(grad.ravel(), [1, 0])


def test_model_defaults_fill_options_the_spec_leaves_out():
    defaults = {"bnext_weight": {"cutoff": 1e-5}}
    assert quantizers.resolve("bnext_weight", "kernel", defaults)["config"]["cutoff"] == 1e-5
    spec = {"name": "bnext_weight", "cutoff": 1e-3}
    assert quantizers.resolve(spec, "kernel", defaults)["config"]["cutoff"] == 1e-3


def test_flip_metrics_go_to_quantizers_that_keep_them():
    spec = {"name": "ste_sign", "metrics": ["flip_ratio"]}
    assert quantizers.resolve(spec, "kernel")["config"]["metrics"] == ["flip_ratio"]
    spec = {"name": "bnext_weight", "metrics": ["flip_ratio"]}
    assert "metrics" not in quantizers.resolve(spec, "kernel")["config"]


def test_every_call_gives_a_fresh_config():
    first = quantizers.resolve("sibnn", "activation")
    first["config"]["rho"] = 0.9
    assert quantizers.resolve("sibnn", "activation")["config"]["rho"] == 0.3


@pytest.mark.parametrize("spec, role, message", [
    ("hard_sign", "activation", "unknown activation 'hard_sign'; choose one of: approx_sign"),
    ("sibnn", "kernel", "'sibnn' cannot be the kernel_quantizer; choose one of: approx_sign"),
    ("xnor_weight", "activation", "'xnor_weight' cannot be the activation; choose one of"),
    ({"name": "ste_sign", "rho": 0.2}, "activation",
     "quantizer 'ste_sign' has no option 'rho'; its options: clip_value"),
    ({"name": "sibnn", "rho": 1.5}, "activation", "rho must be between 0 and 1, got 1.5"),
    ({"name": "sibnn", "rho": "wide"}, "activation", "option 'rho' of quantizer 'sibnn' "
                                                     "expects a number, got 'wide'"),
    ({"rho": 0.2}, "activation", "a quantizer is a name or a dict with a 'name'"),
])
def test_bad_specs_fail_in_one_line(spec, role, message):
    with pytest.raises(BnnoError) as error:
        quantizers.resolve(spec, role)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_builder_takes_a_spec_and_its_model_rebuilds_from_config():
    model = binarynet((32, 32, 3), 2, filters=2, dense_units=4,
                      activation={"name": "bnext_sign", "clip_value": 1.2})
    clips = [layer.input_quantizer.clip_value for layer in model.layers
             if getattr(layer, "input_quantizer", None) is not None]
    assert clips == [1.2] * 8  # every binary layer but the first, which sees the image
    rebuilt = tf.keras.Sequential.from_config(model.get_config())
    assert rebuilt.layers[2].input_quantizer.clip_value == 1.2


def test_a_quantizer_is_one_registered_class():
    @quantizers.register("half_sign", roles=("activation",))
    class HalfSign(lq.quantizers.Quantizer):
        def call(self, inputs):
            return 0.5 * lq.quantizers.ste_sign(inputs)

    try:
        assert "half_sign" in quantizers.names("activation")
        model = binarynet((16, 16, 1), 2, filters=2, dense_units=4, activation="half_sign")
        assert type(model.layers[2].input_quantizer) is HalfSign
    finally:
        quantizers.unregister("half_sign")
    with pytest.raises(BnnoError, match="unknown activation 'half_sign'"):
        quantizers.resolve("half_sign", "activation")
