"""BNext and Si-BNN binary layers rewritten for LCE: the same function in Keras, and one
LceBconv2d per binary layer in the flatbuffer."""

import importlib.util

import larq as lq
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from conftest import MOCK_EXAMPLES, train_tiny

from bnno.deploy import convert, export, metadata
from bnno.deploy.inference import inference_model, is_binary_layer
from bnno.layers.padding import Pad
from bnno.layers.padding import same_mode as _same_mode
from bnno.layers.sign_conv import SignConv
from bnno.models.bnext_layers import binary_conv, binary_module
from bnno.models.sibnn_layers import PaddedQuantConv2D, binary_layer, real_head, stem_conv
from bnno.quantizers.bnext import BNextWeight
from bnno.quantizers.sibnn import SiBnn

needs_lce = pytest.mark.skipif(importlib.util.find_spec("larq_compute_engine") is None,
                               reason="needs the [lce] extra: pip install -e '.[test,lce]'")


def randomize(model, seed=0):
    """Trained-looking values: non-zero biases, thresholds of both signs, BN statistics."""
    rng = np.random.default_rng(seed)
    for t in [q.temperature for q in model.submodules if isinstance(q, BNextWeight)]:
        t.assign(1e-8)  # BNext kernels at the end of training: sign(w)
    for layer in model.submodules:
        if isinstance(layer, SiBnn):
            layer.theta.assign(rng.normal(0, 0.5, layer.theta.shape))
            # 1/Δ of either sign: a negative one flips which side of θ gives 1.
            layer.inv_delta.assign(rng.uniform(0.5, 2, layer.theta.shape)
                                   * rng.choice([-1, 1], layer.theta.shape))
        elif type(layer).__name__ == "LearnableBias":
            layer.bias.assign(rng.normal(0, 0.3, layer.bias.shape))
        elif isinstance(layer, tf.keras.layers.BatchNormalization):
            layer.moving_mean.assign(rng.normal(0, 0.5, layer.moving_mean.shape))
            layer.moving_variance.assign(rng.uniform(0.5, 2, layer.moving_mean.shape))
    return model


def images(shape, count=8, seed=1):
    return np.random.default_rng(seed).normal(size=(count, *shape)).astype(np.float32)


def narrow_bnext(size):
    """BNext's binary modules at stride 1 and 2 (3×3 padded, 1×1 unpadded)."""
    x = tf.keras.Input((size, size, 8))
    y = binary_module(x, 3, 2, quantizers)
    y = binary_module(y, 1, 1, quantizers)
    y = binary_module(y, 3, 1, quantizers)
    return randomize(tf.keras.Model(x, tf.keras.layers.GlobalAvgPool2D()(y)))


def quantizers():
    return {"input_quantizer": "bnext_sign", "kernel_quantizer": "bnext_weight",
            "kernel_constraint": "weight_clip"}


def narrow_sibnn():
    """Si-BNN's binary layers as AlexNet, VGG and ResNet-18 use them: 5×5 and 3×3 "same",
    stride 2 on an even map (PyTorch's padding) and on an odd one, and a dense layer."""
    binary = dict(activation="sibnn", kernel_quantizer="sibnn_weight",
                  kernel_constraint="weight_clip")
    image = tf.keras.Input((16, 16, 3))
    x = stem_conv(image, 8, 3, 1, pad=1)
    x = binary_layer(x, PaddedQuantConv2D, 8, 5, padding="same", **binary)
    x = binary_layer(x, PaddedQuantConv2D, 8, 3, strides=2, padding="same", **binary)
    x = tf.keras.layers.MaxPool2D(2, padding="same")(x)  # 8×8 → 4×4
    x = tf.keras.layers.Cropping2D(((0, 1), (0, 1)))(x)  # an odd 3×3 map
    x = binary_layer(x, PaddedQuantConv2D, 16, 3, strides=2, padding="same", **binary)
    x = tf.keras.layers.Flatten()(x)
    x = binary_layer(x, lq.layers.QuantDense, 16, **binary)
    return randomize(tf.keras.Model(image, real_head(x, 10)))


def narrow_sibnn_tiny_scales():
    """``narrow_sibnn`` with one output channel per binary layer scaled near 0, as a scale
    trained by Adam (``channel_scale`` under Bop) can be."""
    model = narrow_sibnn()
    for layer in model.layers:
        if is_binary_layer(layer):
            kernel = layer.kernel.numpy()
            kernel[..., 0] *= 1e-7
            layer.kernel.assign(kernel)
    return model


@pytest.mark.slow
def test_same_mode_rule_against_tensorflow_padding():
    kernel = np.random.default_rng(0).normal(size=(3, 3, 1, 1)).astype(np.float32)
    for size in (6, 7):
        x = np.random.default_rng(size).normal(size=(1, size, size, 1)).astype(np.float32)
        symmetric = tf.nn.conv2d(np.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0)]), kernel, 2,
                                 "VALID")
        same = tf.nn.conv2d(x, kernel, 2, "SAME")
        mirrored = tf.reverse(tf.nn.conv2d(x[:, ::-1, ::-1], kernel[::-1, ::-1], 2, "SAME"),
                              [1, 2])
        expected = {"same": same, "mirror": mirrored}[_same_mode(size, 3, 2, 1)]
        np.testing.assert_allclose(symmetric, expected, atol=1e-5)
    assert _same_mode(8, 3, 1, 2) is None  # more padding than "same": no LCE form


@pytest.mark.slow
@pytest.mark.parametrize("size", [8, 7])
def test_bnext_conv_rewrite_is_the_same_function(size):
    x = tf.keras.Input((size, size, 4))
    model = randomize(tf.keras.Model(x, binary_conv(x, 6, 3, 2, quantizers)))
    net = inference_model(model)
    assert [type(layer).__name__ for layer in net.layers[1:]] == [
        "LearnableBias", "Activation", "SignConv"]
    assert net.layers[-1].mirror == (size == 8)
    batch = images((size, size, 4))
    np.testing.assert_allclose(net(batch), model(batch), atol=1e-5)


@pytest.mark.slow
def test_sibnn_rewrite_is_the_same_function():
    model = narrow_sibnn()
    net = inference_model(model)
    rewritten = [layer for layer in net.layers if isinstance(layer, SignConv)]
    assert len(rewritten) == 4
    # Stride 2 on the even map pads +1 explicitly; everything else pads in the conv.
    assert [layer.explicit_pad for layer in rewritten] == [0, 1, 0, 0]
    assert [layer.pad_values for layer in rewritten[:3]] == [1.0, 0.0, 1.0]
    batch = images((16, 16, 3), 16)
    np.testing.assert_allclose(net(batch), model(batch, training=False), atol=1e-6)
    # The identity with its border, in NumPy: {0, 1} inputs zero-padded equal ±1 inputs
    # padded with −1, halved, plus ½·ΣK.
    first = model.get_layer(rewritten[0].name)
    real = model.get_layer(index=3)(model.get_layer(index=2)(model.get_layer(index=1)(batch)),
                                    training=False)
    a = first.input_quantizer(real).numpy()
    kernel = first.kernel_quantizer(tf.convert_to_tensor(first.kernel)).numpy()
    s = np.pad(2 * a - 1, [(0, 0), (2, 2), (2, 2), (0, 0)], constant_values=-1)
    windows = np.lib.stride_tricks.sliding_window_view(s, (5, 5), axis=(1, 2))
    via_signs = (0.5 * np.einsum("nhwcij,ijco->nhwo", windows, kernel)
                 + 0.5 * kernel.sum((0, 1, 2)))
    np.testing.assert_allclose(via_signs, first(real), atol=1e-5)
    np.testing.assert_allclose(net.get_layer(first.name)(real), first(real), atol=1e-6)


@pytest.mark.slow
@needs_lce
@pytest.mark.parametrize("make, shape", [(lambda: narrow_bnext(8), (8, 8, 8)),
                                         (narrow_sibnn, (16, 16, 3)),
                                         (narrow_sibnn_tiny_scales, (16, 16, 3))],
                         ids=["bnext", "sibnn", "sibnn-tiny-scales"])
def test_every_binary_layer_is_an_lce_bconv(make, shape):
    model = make()
    net = inference_model(model)
    flatbuffer = convert.convert_ready(net)
    binary = [layer.name for layer in model.layers if is_binary_layer(layer)]
    assert metadata.count_binary_ops(flatbuffer) == len(binary) > 0
    batch = images(shape, 16)
    expected = model(batch, training=False).numpy()
    outputs = convert.lce_predict(flatbuffer, batch)
    np.testing.assert_allclose(outputs, expected, atol=1e-4 * np.abs(expected).max())


@pytest.mark.slow
@needs_lce
def test_a_binary_layer_left_in_float_is_named():
    x = tf.keras.Input((8, 8, 4))
    # Two pixels of zeros around a 3×3 convolution: no "same" form, so no LCE binary form.
    y = lq.layers.QuantConv2D(4, 3, input_quantizer="bnext_sign", kernel_quantizer="ste_sign",
                              name="wide_pad")(Pad(2)(x))
    z = lq.layers.QuantConv2D(4, 1, input_quantizer="ste_sign", kernel_quantizer="ste_sign",
                              name="fine")(y)
    net = inference_model(tf.keras.Model(x, z))
    assert metadata.count_binary_ops(convert.convert_ready(net)) == 1
    assert convert.float_layers(net, ["wide_pad", "fine"]) == ["wide_pad"]


@pytest.mark.slow
@needs_lce
def test_trained_sibnn_run_exports_binary(mock_data_dir, tmp_path):
    with tfds.testing.mock_data(num_examples=MOCK_EXAMPLES, data_dir=mock_data_dir):
        run_dir = train_tiny(
            "sibnn_resnet18", "cifar10", "sibnn_cosine",
            "filters=8,batch_size=8,epochs=1,preprocess_fn=resize_and_flip",
            output_dir=tmp_path / "run", seed=1, steps_per_epoch=2, validation_steps=1)
        output = tmp_path / "sibnn.tflite"
        result = export.export_run(run_dir, output, check_examples=MOCK_EXAMPLES)
        assert result["binary_ops"] == result["binary_layers"] == 16
        assert result["float_layers"] == [] and result["check"]["passed"]
        meta = metadata.read_metadata(output.read_bytes())
        assert meta["binary_layers"] == 16 and meta["float_layers"] == []

