"""The inference rewrite binarizes kernels with the trained quantizer's own state."""

import numpy as np
import pytest
import tensorflow as tf

from bnno.deploy.inference import inference_model, is_binary_layer
from bnno.errors import BnnoError
from bnno.layers.sign_conv import SignConv
from bnno.models.bnext_18 import bnext_18
from bnno.quantizers.bnext import BNextWeight


def _binary_kernels(model):
    return [layer.kernel.numpy() for layer in model.submodules
            if getattr(layer, "kernel_quantizer", None) is not None]


@pytest.mark.slow
def test_bnext_kernels_are_binarized_at_their_trained_temperature():
    tf.keras.utils.set_random_seed(0)
    trained = bnext_18((32, 32, 3), 10, width_multiplier=0.125)
    for t in [q.temperature for q in trained.submodules if isinstance(q, BNextWeight)]:
        t.assign(1e-8)  # below the cutoff: the quantizer gives sign(w)
    net = inference_model(trained)
    # Every binary convolution now runs on larq's sign (see test_sign_conv.py).
    kernels = [layer.conv.kernel.numpy() for layer in net.layers if isinstance(layer, SignConv)]
    assert len(kernels) == sum(is_binary_layer(layer) for layer in trained.layers)
    assert kernels and all(set(np.unique(k)) <= {-1.0, 1.0} for k in kernels)
    x = tf.random.stateless_normal((2, 32, 32, 3), seed=(0, 1))
    np.testing.assert_allclose(net(x).numpy(), trained(x, training=False).numpy(), atol=1e-5)


@pytest.mark.slow
def test_a_bnext_model_still_at_a_high_temperature_is_not_binary():
    tf.keras.utils.set_random_seed(0)
    trained = bnext_18((32, 32, 3), 10, width_multiplier=0.125)  # T = 1: clip(w), not ±1
    with pytest.raises(BnnoError, match="is tagged binary but its kernel is not"):
        inference_model(trained)
