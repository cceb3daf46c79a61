"""BiBench's operators in bnno equal the official PyTorch layers, run once at random
weights (``tests/fixtures/bibench_layers.npz``, made by ``benchmarks/bibench_fixtures.py``
from htqin/BiBench's ``bibench/models/layers/*.py``): outputs, the gradients of the input,
of the latent weights and of every trainable variable, at stride 1 and 2, with ReCU's and
FDA's schedules at epoch 3 of 10; and the official schedules over whole runs.

Each operator is larq's ``QuantConv2D`` (XNOR++: ``XnorPlusPlusConv2D``) with the
binarizer's two quantizers, "same" padding (odd input sizes at stride 2, where TF's "same"
pads as PyTorch's ``padding=1``) and no bias, as BiBench's ResNets build it.
"""

import bnno  # noqa: F401

# isort: split

from pathlib import Path

import larq as lq
import numpy as np
import pytest
import tensorflow as tf

from bnno.models.bibench_layers import XnorPlusPlusConv2D

FIXTURE = Path(__file__).parents[1] / "fixtures" / "bibench_layers.npz"
BINARIZERS = ("bnn", "xnor", "dorefa", "bireal", "xnorpp", "react", "recu", "fda")


@pytest.fixture(scope="module")
def official():
    return dict(np.load(FIXTURE))


def _nhwc(x):
    return np.transpose(x, (0, 2, 3, 1))


def _kernel(w):  # (out, in, kh, kw) -> (kh, kw, in, out)
    return np.transpose(w, (2, 3, 1, 0))


def _layer(name, stride, x_shape, p):
    conv = XnorPlusPlusConv2D if name == "xnorpp" else lq.layers.QuantConv2D
    layer = conv(8, 3, strides=stride, padding="same", use_bias=False,
                 input_quantizer=f"bibench_{name}_activation",
                 kernel_quantizer=f"bibench_{name}_weight")
    out = layer(tf.zeros(x_shape))
    layer.kernel.assign(_kernel(p["weight"]))
    inputs, kernels = layer.input_quantizer, layer.kernel_quantizer
    # The official extra parameters, and where bnno keeps each (gradient name, variable).
    extra = {}
    if name == "react":
        extra["channel_threshold"] = inputs.threshold
    if name == "xnorpp":
        extra.update(o_scale=kernels.scale, h_scale=layer.row_scale, w_scale=layer.column_scale)
    if name == "recu":
        extra["alpha"] = kernels.scale
    if name == "fda":
        extra.update({"weight_noise.fc1.weight": kernels.fc1,
                      "weight_noise.fc2.weight": kernels.fc2})
        inputs.fc1.assign(p["act_noise.fc1.weight"].T)
        inputs.fc2.assign(p["act_noise.fc2.weight"].T)
    rows, columns = out.shape[1:3]
    for key, variable in extra.items():
        value = p[key]
        value = value[0, 0, :rows, 0] if key == "h_scale" else value
        value = value[0, 0, 0, :columns] if key == "w_scale" else value
        variable.assign(value.T.reshape(variable.shape) if key.endswith("weight")
                        else value.reshape(variable.shape))
    for q in (inputs, kernels):
        if hasattr(q, "on_epochs_done"):
            q.on_epochs_done(3, 10)
    return layer, extra


@pytest.mark.slow
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("name", BINARIZERS)
def test_operator_equals_the_official_layer(official, name, stride):
    key = f"{name}_s{stride}"
    p = {k.split("/", 2)[2]: v for k, v in official.items() if k.startswith(f"{key}/param/")}
    grads = {k.split("/", 2)[2]: v for k, v in official.items() if k.startswith(f"{key}/grad/")}
    x, g = _nhwc(official[f"{key}/x"]), _nhwc(official[f"{key}/g"])
    layer, extra = _layer(name, stride, x.shape, p)
    if name == "recu":
        assert float(layer.kernel_quantizer.tau) == pytest.approx(float(p["tau"]), rel=1e-7)
    if name == "fda":
        for q in (layer.input_quantizer, layer.kernel_quantizer):
            assert int(q.terms) == int(p["n"])
            assert float(q.noise_scale) == pytest.approx(float(p["alpha"]), rel=1e-7)
    xt = tf.constant(x)
    variables = [layer.kernel, *extra.values()]
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = layer(xt, training=True)
        loss = tf.reduce_sum(y * g)
    grad_x, grad_kernel, *grad_extra = tape.gradient(loss, [xt, *variables])
    close = dict(rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(y.numpy(), _nhwc(official[f"{key}/y"]), **close)
    np.testing.assert_allclose(grad_x.numpy(), _nhwc(official[f"{key}/grad_x"]), **close)
    np.testing.assert_allclose(grad_kernel.numpy(), _kernel(grads["weight"]), **close)
    rows, columns = y.shape[1:3]
    for (name_, variable), grad in zip(extra.items(), grad_extra, strict=True):
        want = grads[name_]
        want = want[0, 0, :rows, 0] if name_ == "h_scale" else want
        want = want[0, 0, 0, :columns] if name_ == "w_scale" else want
        want = want.T if name_.endswith("weight") else want.reshape(variable.shape)
        np.testing.assert_allclose(grad.numpy(), want, err_msg=name_, **close)
    if name == "recu":
        np.testing.assert_allclose(layer(xt, training=False).numpy(),
                                   _nhwc(official[f"{key}/y_eval"]), **close)


@pytest.mark.slow
def test_schedules_equal_the_official_ones_over_whole_runs(official):
    from bnno.quantizers.bibench_fda import fda_noise_scale, fda_terms
    from bnno.quantizers.bibench_recu import recu_tau

    for (epochs, epoch, tau) in official["schedule/recu_tau"]:
        assert recu_tau(int(epoch), int(epochs)) == pytest.approx(tau, rel=1e-7)
    for (epochs, epoch, alpha) in official["schedule/fda_alpha"]:
        # PyTorch's float32 cosine is sometimes one ulp off the correctly rounded one
        # (bnno's); 1 + cos near π turns that into ~3e-9.
        assert fda_noise_scale(int(epoch), int(epochs)) == pytest.approx(alpha, rel=1e-6, abs=1e-8)
    for (epochs, epoch, n) in official["schedule/fda_n"]:
        assert fda_terms(int(epoch), int(epochs)) == n
