"""ReActNet-A and ReAct-ResNet-18 in LCE: every binary convolution an ``LceBconv2d``, the
outputs those of Keras; and the geometry where LCE's own zero-padding correction fails
(a 3×3 binary convolution on a 2×2 map), found by ``lce_corrects`` and exported exactly
with ones padding and a constant correction (``bnno.layers.zero_sign``)."""

import importlib.util
import logging
from pathlib import Path

import larq as lq
import numpy as np
import pytest
import tensorflow as tf

from bnno.checkpoints import pth, reactnet
from bnno.checkpoints.registry import state_dict
from bnno.deploy.convert import convert_ready, lce_predict
from bnno.deploy.inference import inference_model, is_binary_layer
from bnno.deploy.metadata import count_binary_ops
from bnno.layers.padding import Pad
from bnno.layers.zero_sign import BorderSignConv, lce_corrects

pytestmark = pytest.mark.skipif(importlib.util.find_spec("larq_compute_engine") is None,
                                reason="needs the [lce] extra: pip install -e '.[test,lce]'")

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def larq_same_conv(size: int, stride: int) -> tf.keras.Model:
    """larq's own binary 3×3 convolution with TF's "same" zero padding, ±1 kernel."""
    image = tf.keras.Input((size, size, 32))
    conv = lq.layers.QuantConv2D(8, 3, strides=stride, padding="same", pad_values=0.0,
                                 input_quantizer="ste_sign", kernel_quantizer="ste_sign",
                                 use_bias=False)
    net = tf.keras.Model(image, conv(image))
    rng = np.random.default_rng(size + 10 * stride)
    conv.kernel.assign(np.sign(rng.normal(size=conv.kernel.shape)).astype(np.float32))
    return net


@pytest.mark.parametrize("size, stride", [(1, 1), (2, 1), (3, 1), (4, 1), (2, 2), (4, 2)])
def test_lce_corrects_tells_where_lces_zero_padding_fails(size, stride):
    # The bug, reproduced on larq's layer alone: the integer outputs differ by whole
    # units wherever LCE leaves a border pixel uncorrected.
    net = larq_same_conv(size, stride)
    x = np.random.default_rng(0).normal(size=(2, size, size, 32)).astype(np.float32)
    wrong = np.abs(lce_predict(convert_ready(net), x, 1) - net.predict(x, verbose=0)).max()
    assert (wrong == 0) == lce_corrects((size, size), (3, 3), (stride, stride))


@pytest.mark.parametrize("size, stride", [(2, 1), (1, 1), (2, 2), (3, 1)])
def test_the_rewrite_is_exact_where_lce_corrects_and_where_it_does_not(size, stride, caplog):
    image = tf.keras.Input((size, size, 16))
    conv = lq.layers.QuantConv2D(8, 3, strides=stride, input_quantizer="react_sign",
                                 kernel_quantizer="react_weight", use_bias=False, name="conv")
    net = tf.keras.Model(image, tf.keras.layers.BatchNormalization()(conv(Pad(1)(image))))
    rng = np.random.default_rng(1)
    conv.kernel.assign(rng.normal(size=conv.kernel.shape).astype(np.float32))
    x = rng.normal(size=(4, size, size, 16)).astype(np.float32)
    with caplog.at_level(logging.WARNING, "bnno.layers.zero_sign"):
        ready = inference_model(net)
    border = isinstance(ready.get_layer("conv"), BorderSignConv)
    assert border == (not lce_corrects((size, size), (3, 3), (stride, stride)))
    lines = [r.getMessage() for r in caplog.records if r.name == "bnno.layers.zero_sign"]
    assert len(lines) == int(border)  # one line naming the layer
    assert not border or lines[0].startswith("conv: LCE's zero-padding correction misses")
    flatbuffer = convert_ready(ready)
    assert count_binary_ops(flatbuffer) == 1
    expected = net.predict(x, verbose=0)
    np.testing.assert_allclose(lce_predict(flatbuffer, x, 1), expected, rtol=0,
                               atol=1e-5 * np.abs(expected).max())


def imported(model: str):
    from bnno import models

    mapping = reactnet.reactnet(state_dict(pth.load(FIXTURES / f"{model}_narrow.pth.tar")),
                                model)
    net = models.get(model)((32, 32, 3), mapping.num_classes, **mapping.hparams)
    mapping.assign(net)
    return net


@pytest.mark.slow
@pytest.mark.parametrize("model, binary", [("reactnet_a", 31), ("reactnet_resnet18", 16)])
def test_every_binary_convolution_runs_as_lce_bconv2d_and_agrees_with_keras(model, binary):
    # The official models at random weights (the import fixtures), at 32×32: ReActNet-A's
    # last 3×3 convolution sees a 2×2 map, the case LCE's correction misses.
    net = imported(model)
    assert sum(is_binary_layer(layer) for layer in net.layers) == binary
    ready = inference_model(net)
    borders = [layer.name for layer in ready.layers if isinstance(layer, BorderSignConv)]
    assert borders == (["feature.13.binary_3x3"] if model == "reactnet_a" else [])
    flatbuffer = convert_ready(ready)
    assert count_binary_ops(flatbuffer) == binary
    x = np.load(FIXTURES / "reactnet_inputs.npy")
    np.testing.assert_allclose(lce_predict(flatbuffer, x, 2), net.predict(x, verbose=0),
                               rtol=0, atol=1e-5)


@pytest.mark.slow
def test_plain_sign_kernels_of_cema_export_as_lce_bconv2d():
    from bnno.config.plan import check_set
    from bnno.training.build import build_model

    checked = check_set("reactnet_a", "cema", {"width_multiplier": 0.0625})
    tf.keras.utils.set_random_seed(2)
    net = build_model(checked.model, "cema", (32, 32, 3), 10)
    flatbuffer = convert_ready(inference_model(net))
    assert count_binary_ops(flatbuffer) == 31
    x = np.random.default_rng(2).normal(size=(4, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(lce_predict(flatbuffer, x, 2), net.predict(x, verbose=0),
                               rtol=0, atol=1e-5)
