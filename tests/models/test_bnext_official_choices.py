"""Two choices of BNext's official code: the stem's stride follows the class count
(``num_classes != 1000``: stride 1), not the input's size; the weight binarizer's sign is
PyTorch's (sign(0) = 0), and export writes +1 for such a weight, the bit LCE stores."""

from __future__ import annotations

import larq as lq
import numpy as np
import pytest
import tensorflow as tf

from bnno import models
from bnno.deploy.inference import inference_model
from bnno.quantizers.bnext import BNextWeight


def _stem(net) -> tf.keras.layers.Conv2D:
    return next(layer for layer in net.layers if isinstance(layer, tf.keras.layers.Conv2D))


@pytest.mark.slow
@pytest.mark.parametrize("shape, classes, strides", [
    ((32, 32, 3), 1000, (2, 2)),   # ImageNet's class count on small images: stride 2
    ((64, 64, 3), 10, (1, 1)),
    ((96, 96, 3), 100, (1, 1)),    # large images of another class count: stride 1
])
def test_bnext_strides_its_stem_for_1000_classes_only(shape, classes, strides):
    net = models.get("bnext_t")(shape, classes, width_multiplier=0.125, blocks=2)
    assert _stem(net).strides == strides


@pytest.mark.slow
@pytest.mark.parametrize("shape, classes, kernel", [((32, 32, 3), 1000, (7, 7)),
                                                    ((96, 96, 3), 10, (3, 3))])
def test_bnext_18_takes_the_imagenet_stem_for_1000_classes_only(shape, classes, kernel):
    net = models.get("bnext_18")(shape, classes, width_multiplier=0.125, blocks_per_stage=1)
    assert _stem(net).kernel_size == kernel
    pools = [layer for layer in net.layers if isinstance(layer, tf.keras.layers.MaxPool2D)]
    assert len(pools) == (1 if classes == 1000 else 0)


@pytest.mark.slow
def test_an_exact_zero_weight_binarizes_to_zero_and_exports_as_plus_one():
    q = BNextWeight()
    q.build((4,))
    q.temperature.assign(1e-8)  # below the cutoff: the exact sign
    np.testing.assert_array_equal(q(tf.constant([0.0, 0.3, -0.2, 0.0])).numpy(),
                                  [0.0, 1.0, -1.0, 0.0])
    conv = lq.layers.QuantConv2D(2, 1, kernel_quantizer=BNextWeight(), use_bias=False,
                                 name="binary")
    model = tf.keras.Sequential([tf.keras.Input((2, 2, 2)), conv])
    conv.kernel_quantizer.temperature.assign(1e-8)
    conv.kernel.assign(np.array([[[[0.0, -0.4], [0.2, 0.0]]]], "float32"))
    exported = inference_model(model).get_layer("binary").kernel.numpy()
    np.testing.assert_array_equal(exported, [[[[1.0, -1.0], [1.0, 1.0]]]])
