"""Activation binarizers by name: BNext's clipped sign next to larq's ste_sign."""

import larq as lq
import numpy as np
import pytest
import tensorflow as tf

from bnno import binarizers
from bnno.errors import BnnoError
from bnno.models.binarynet import binarynet


def forward_and_gradient(quantizer, x):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = quantizer(x)
    return y.numpy(), tape.gradient(y, x).numpy()


def test_bnext_sign_passes_gradients_up_to_one_and_a_half():
    x = [-2.0, -1.5, -1.2, -0.3, 0.0, 0.4, 1.2, 1.5, 1.6]
    bnext = lq.quantizers.get(binarizers.resolve("bnext_sign"))
    y, g = forward_and_gradient(bnext, x)
    np.testing.assert_array_equal(y, [-1, -1, -1, -1, 0, 1, 1, 1, 1])  # PyTorch's sign(0)
    np.testing.assert_array_equal(g, [0, 1, 1, 1, 1, 1, 1, 1, 0])
    y2, g2 = forward_and_gradient(lq.quantizers.get(binarizers.resolve("ste_sign")), x)
    np.testing.assert_array_equal(y2, np.where(y == 0, 1, y))  # larq's sign(0) is +1
    np.testing.assert_array_equal(g2, [0, 0, 0, 1, 1, 1, 0, 0, 0])


def test_binarynet_takes_the_binarizer_by_name():
    model = binarynet((32, 32, 3), 2, filters=2, dense_units=4, activation="bnext_sign")
    clips = [layer.input_quantizer.clip_value for layer in model.layers
             if getattr(layer, "input_quantizer", None) is not None]
    assert clips == [1.5] * 8  # every binary layer but the first, which sees the image
    rebuilt = tf.keras.Sequential.from_config(model.get_config())
    assert rebuilt.layers[2].input_quantizer.clip_value == 1.5


def test_unknown_binarizer_is_refused_with_the_choices():
    with pytest.raises(BnnoError, match="bnext_sign"):
        binarizers.resolve("hard_sign")
