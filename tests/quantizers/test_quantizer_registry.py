"""Every registered quantizer: its forward values and gradients equal an independent NumPy
transcription of its rule, its config round-trips, its declarations are checked when it
registers, and specs resolve or fail in one line.

A quantizer registered without a transcription in ``references/<name>.py`` fails
``test_every_quantizer_has_a_reference``: adding a quantizer means adding that file.
"""

import bnno  # noqa: F401

# isort: split

import importlib
import sys
from pathlib import Path

import larq as lq
import numpy as np
import pytest
import tensorflow as tf

from bnno import plugins, quantizers
from bnno.errors import BnnoError
from bnno.models.binarynet import binarynet

plugins.load()
sys.path.insert(0, str(Path(__file__).parent))  # the references package


REFERENCES = Path(__file__).parent / "references"


def reference(name: str):
    """The module of ``references/`` that transcribes the quantizer ``name``."""
    return importlib.import_module(f"references.{name}")


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


@pytest.mark.slow
@pytest.mark.parametrize("name", quantizers.names())
def test_every_quantizer_has_a_reference(name):
    assert (REFERENCES / f"{name}.py").is_file(), (
        f"quantizer {name} has no NumPy transcription: add tests/quantizers/references/"
        f"{name}.py with forward(x, quantizer) and gradient(x, g, quantizer)")


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in quantizers.names()
                                  if (REFERENCES / f"{n}.py").is_file()])
def test_forward_and_gradient_equal_numpy(name):
    role = quantizers.get(name).roles[0]
    shape = (3, 3, 4, 5) if role == "kernel" else (2, 6, 6, 5)
    x, g = _values(shape, 0), _values(shape, 1)
    y, grad, quantizer = _run(quantizers.resolve(name, role), x, g)
    rule = reference(name)
    np.testing.assert_allclose(y, rule.forward(x, quantizer), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(grad, rule.gradient(x, g, quantizer), rtol=1e-5, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("name", quantizers.names())
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
    ({"name": "sibnn", "rho": 1.5}, "activation", "option 'rho' of quantizer 'sibnn' "
                                                  "expects a number from 0 to 1, got 1.5"),
    ({"name": "sibnn", "rho": "wide"}, "activation", "option 'rho' of quantizer 'sibnn' "
                                                     "expects a number from 0 to 1, got 'wide'"),
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
    @quantizers.register("test_only_half_sign", roles=("activation",), kind="other")
    class TestOnlyHalfSign(lq.quantizers.Quantizer):
        def call(self, inputs):
            return 0.5 * lq.quantizers.ste_sign(inputs)

    try:
        assert "test_only_half_sign" in quantizers.names("activation")
        model = binarynet((16, 16, 1), 2, filters=2, dense_units=4,
                          activation="test_only_half_sign")
        assert type(model.layers[2].input_quantizer) is TestOnlyHalfSign
        assert tf.keras.utils.get_custom_objects()["TestOnlyHalfSign"] is TestOnlyHalfSign
    finally:
        quantizers.unregister("test_only_half_sign")
    with pytest.raises(BnnoError, match="unknown activation 'test_only_half_sign'"):
        quantizers.resolve("test_only_half_sign", "activation")
    # Unregistering removes what registering added to Keras too.
    objects = tf.keras.utils.get_custom_objects()
    assert "TestOnlyHalfSign" not in objects and "test_only_half_sign" not in objects


class Precise(lq.quantizers.Quantizer):
    precision = 1


class Vague(lq.quantizers.Quantizer):
    pass


class NoDefault(lq.quantizers.Quantizer):
    precision = 1

    def __init__(self, width, **kwargs):
        super().__init__(**kwargs)


class Untyped(lq.quantizers.Quantizer):
    precision = 1

    def __init__(self, table=None, **kwargs):
        super().__init__(**kwargs)


@pytest.mark.parametrize("cls, kwargs, message", [
    (Vague, {"kind": "sign"}, "is of kind sign, so its class Vague needs larq's precision = 1"),
    (Precise, {"kind": "round"}, "has kind 'round'; choose one of: other, scaled, sign"),
    (Precise, {"kind": "sign", "roles": ("weights",)}, r"has roles \('weights',\)"),
    (Precise, {"kind": "sign", "export": "fast"}, "has export 'fast'; choose one of"),
    (Precise, {"kind": "sign", "export": "rewrite"}, "export='rewrite' and a rewrite hook"),
    (Precise, {"kind": "other", "roles": ("kernel",), "latent_free": True},
     "a latent-free quantizer holds ±1 kernels"),
    (NoDefault, {"kind": "sign"}, "option 'width' has no default"),
    (Untyped, {"kind": "sign"}, "option 'table' has neither a type hint nor"),
    (Precise, {"kind": "sign", "metric_options": ("sparsity",)},
     "metric option 'sparsity' must be a true/false option"),
    (dict, {"kind": "other"}, "must be a larq quantizer class"),
])
def test_declarations_are_checked_when_a_quantizer_registers(cls, kwargs, message):
    with pytest.raises(BnnoError, match=message) as error:
        quantizers.register("test_only_bad", **kwargs)(cls)
    assert "\n" not in str(error.value)
    assert "test_only_bad" not in quantizers.names()
    assert "test_only_bad" not in tf.keras.utils.get_custom_objects()


def test_a_quantizer_declares_its_kind_and_what_export_does():
    for name in quantizers.names():
        entry = quantizers.get(name)
        assert entry.kind in quantizers.KINDS and entry.export in quantizers.EXPORTS
        assert (entry.export == "rewrite") == (entry.rewrite is not None)
    assert quantizers.get("ste_sign").export == "binary"
    assert quantizers.get("ste_heaviside").export == "float"  # {0, 1}: LCE packs ±1 only
    assert quantizers.get("sibnn").export == "rewrite"
