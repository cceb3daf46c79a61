"""Si-BNN against its official code (peiswang/SiBNN): the weight binarizer and its
gradient, the initialisation, PyTorch's padding, the ImageNet preprocessing and the sets.

Each rule is transcribed here in NumPy in the code's own layout (PyTorch's kernels are
(out, in, kh, kw), Keras' (kh, kw, in, out)), independently of bnno's implementation."""

import bnno  # noqa: F401

# isort: split

import larq as lq
import numpy as np
import pytest
import tensorflow as tf
from conftest import resolved

from bnno import hparams, models
from bnno.config.kernels import kernel_settings
from bnno.data import preprocessing
from bnno.errors import BnnoError
from bnno.layers.padding import Pad
from bnno.models.sibnn_layers import PaddedQuantConv2D
from bnno.quantizers import sibnn
from bnno.training.build import _name_quantizer_metrics
from bnno.training.train import plan

IMAGENET_MODELS = ["sibnn_resnet18", "sibnn_alexnet", "sibnn_vgg"]
MEAN = np.array([0.485, 0.456, 0.406]) * 255
STD = np.array([0.229, 0.224, 0.225]) * 255


def torch_binarize(w):
    """util.py ``BinOp.binarizeConvParams`` on a PyTorch-layout kernel (out first)."""
    n = w[0].size
    alpha = np.abs(w).reshape(len(w), -1).sum(1) / n
    return np.sign(w) * alpha.reshape((-1,) + (1,) * (w.ndim - 1))


def torch_weight_grad(w, g):
    """util.py ``BinOp.updateBinaryGradWeight_new`` on a PyTorch-layout kernel."""
    n = w[0].size
    shape = (-1,) + (1,) * (w.ndim - 1)
    m_add = (np.sign(w) * g).reshape(len(w), -1).sum(1).reshape(shape) / n * np.sign(w)
    m = g.copy()
    m[w < -1.0] = 0
    m[w > 1.0] = 0
    m *= 1.0 - 1.0 / n
    return m + m_add


def to_torch(kernel):
    return np.moveaxis(kernel, -1, 0) if kernel.ndim == 2 else kernel.transpose(3, 2, 0, 1)


def to_keras(kernel):
    return np.moveaxis(kernel, 0, -1) if kernel.ndim == 2 else kernel.transpose(2, 3, 1, 0)


CONV_KERNEL = np.array([  # (kh=2, kw=2, in=2, out=3): entries beyond ±1, a zero, ties of |w|
    [[[0.5, -1.5, 0.0], [-0.25, 0.75, 2.0]], [[1.0, -1.0, 0.125], [0.3, 0.2, -0.6]]],
    [[[-0.8, 0.1, -3.0], [0.4, -0.05, 0.9]], [[-1.25, 0.6, 0.7], [0.0, 1.1, -0.2]]],
], np.float32)
CONV_GRAD = np.array([
    [[[0.3, -0.2, 0.5], [1.0, 0.4, -0.7]], [[-0.1, 0.9, 0.2], [0.6, -0.3, 0.8]]],
    [[[0.05, -0.6, 0.1], [-0.4, 0.7, -0.9]], [[0.2, -0.5, 0.3], [0.45, 0.15, -0.35]]],
], np.float32)
DENSE_KERNEL = np.array([[0.5, -2.0], [-0.3, 0.4], [1.5, 0.0], [-0.9, -1.0], [0.2, 0.6]],
                        np.float32)
DENSE_GRAD = np.array([[1.0, -0.5], [0.2, 0.3], [-0.7, 0.9], [0.4, -0.1], [-0.6, 0.8]],
                      np.float32)


@pytest.mark.parametrize("kernel, upstream", [(CONV_KERNEL, CONV_GRAD),
                                              (DENSE_KERNEL, DENSE_GRAD)])
def test_weight_binarizer_and_gradient_are_the_codes(kernel, upstream):
    quantizer = lq.quantizers.get("sibnn_weight")
    w = tf.constant(kernel)
    with tf.GradientTape() as tape:
        tape.watch(w)
        binary = quantizer(w)
        loss = tf.reduce_sum(binary * upstream)  # the binarized kernel's gradient is upstream
    grad = tape.gradient(loss, w).numpy()
    np.testing.assert_allclose(binary.numpy(), to_keras(torch_binarize(to_torch(kernel))),
                               rtol=1e-6)
    np.testing.assert_allclose(grad, to_keras(torch_weight_grad(to_torch(kernel),
                                                                to_torch(upstream))),
                               rtol=1e-5, atol=1e-7)
    assert np.all(binary.numpy()[kernel == 0] == 0)  # PyTorch's sign(0) = 0
    # larq's magnitude_aware_sign has the same forward pass, not this gradient.
    with tf.GradientTape() as tape:
        tape.watch(w)
        larq_loss = tf.reduce_sum(lq.quantizers.get("magnitude_aware_sign")(w) * upstream)
    assert not np.allclose(tape.gradient(larq_loss, w).numpy(), grad)


def test_sibnn_weight_counts_sign_changes_and_is_binary():
    settings = kernel_settings({"kernel_quantizer": "sibnn_weight"}, "adam")
    layer = lq.layers.QuantDense(4, use_bias=False, name="binary", **settings)
    model = tf.keras.Sequential([tf.keras.Input((1,)), layer])
    _name_quantizer_metrics(model)
    for kernel in ([0.2, -0.1, 0.3, 0.4], [0.1, -0.2, -0.3, 0.4], [-0.1, 0.2, 0.3, -0.4]):
        layer.kernel.assign([kernel])
        model(tf.ones((1, 1)))
    assert float(layer.kernel_quantizer.flip_ratio.result()) == pytest.approx((1 / 4 + 4 / 4) / 2)
    assert layer.kernel_quantizer.precision == 1
    assert lq.quantizers.get("magnitude_aware_sign") is not None  # still usable


def kernels(model):
    """(layer, latent kernel) of every convolution and dense layer."""
    kinds = (tf.keras.layers.Conv2D, tf.keras.layers.Dense)
    return [(layer, np.asarray(getattr(layer.kernel, "latent_variable", layer.kernel)))
            for layer in model.layers if isinstance(layer, kinds)]


@pytest.fixture(scope="module")
def small_models():
    tf.keras.utils.set_random_seed(3)
    return {"sibnn_resnet18": models.get("sibnn_resnet18")((32, 32, 3), 10, filters=8),
            "sibnn_mlp": models.get("sibnn_mlp")((28, 28, 1), 10, units=64)}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["sibnn_resnet18", "sibnn_mlp"])
def test_initialisation_is_the_codes(small_models, name):
    model = small_models[name]
    found = kernels(model)
    convs = [layer for layer, _ in found if isinstance(layer, tf.keras.layers.Conv2D)]
    if name == "sibnn_resnet18":  # stem, 16 binary 3×3, 3 shortcut 1×1
        assert len(convs) == 20 and len(found) == 21
    for layer, kernel in found:
        n = int(np.prod(kernel.shape[:-1]))  # one output filter: kh·kw·in, or the inputs
        tolerance = 5 / np.sqrt(2 * kernel.size)  # 5 sampling deviations of a std
        assert abs(kernel.std() * n - 1) < tolerance, (layer.name, kernel.std(), 1 / n)
        assert abs(kernel.mean()) < 5 / n / np.sqrt(kernel.size), layer.name
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            assert np.all(layer.gamma.numpy() == 1) and np.all(layer.beta.numpy() == 0)
    head = found[-1][0]
    bound = 1 / np.sqrt(head.kernel.shape[0])  # PyTorch's default bias of nn.Linear
    bias = head.bias.numpy()
    assert np.all(np.abs(bias) <= bound) and np.abs(bias).max() > bound / 4


def torch_conv(x, w, stride, pad):
    """PyTorch's conv2d (cross-correlation) of NHWC ``x`` with a Keras-layout kernel,
    ``pad`` zeros on every side."""
    x = np.pad(x, [(0, 0), (pad, pad), (pad, pad), (0, 0)])
    k = w.shape[0]
    out_h, out_w = (x.shape[1] - k) // stride + 1, (x.shape[2] - k) // stride + 1
    out = np.zeros((x.shape[0], out_h, out_w, w.shape[-1]))
    for i in range(out_h):
        for j in range(out_w):
            window = x[:, i * stride:i * stride + k, j * stride:j * stride + k, :]
            out[:, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [0, 1, 2]))
    return out


@pytest.mark.parametrize("size", [7, 8])
def test_strided_binary_conv_pads_like_pytorch(size):
    rng = np.random.default_rng(size)
    x = rng.normal(size=(2, size, size, 3)).astype(np.float32)
    theta = np.array([-0.5, 0.2, 0.0], np.float32)  # θ < 0: a padded 0 before the
    # binarizer would become 1; the code pads the binarized {0, 1} input with 0.
    conv = PaddedQuantConv2D(4, 3, strides=2, padding="same", use_bias=False,
                             input_quantizer=sibnn.SiBnn(sparsity=False),
                             kernel_quantizer="sibnn_weight")
    conv.build(x.shape)
    conv.input_quantizer.build(x.shape)
    conv.input_quantizer.theta.assign(theta)
    latent = rng.normal(size=(3, 3, 3, 4)).astype(np.float32) * 0.1
    conv.kernel.assign(latent)
    binary_input = (x - theta > 0).astype(np.float32)
    binary_kernel = to_keras(torch_binarize(to_torch(latent)))
    expected = torch_conv(binary_input, binary_kernel, stride=2, pad=1)
    out = conv(x).numpy()
    assert out.shape == expected.shape == (2, (size + 1) // 2, (size + 1) // 2, 4)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    if size % 2 == 0:  # on even sizes TF's "same" pads bottom/right only
        tf_same = tf.nn.conv2d(binary_input, binary_kernel, 2, "SAME").numpy()
        assert not np.allclose(tf_same, expected)


def test_every_strided_or_stem_conv_pads_symmetrically(small_models):
    # AlexNet's and VGG's binary convolutions have stride 1; their stems are built by the
    # same function as ResNet-18's (their docstrings build them).
    strided = 0
    for layer in small_models["sibnn_resnet18"].layers:
        if not isinstance(layer, tf.keras.layers.Conv2D) or layer.kernel_size == (1, 1):
            continue
        strided += max(layer.strides) > 1
        if isinstance(layer, PaddedQuantConv2D):
            assert layer.padding == "same"
            assert layer._is_native_padding == (max(layer.strides) == 1)
        else:  # the full-precision stem: Pad(3), then "valid"
            pad = layer._inbound_nodes[0].inbound_layers
            assert layer.padding == "valid" and isinstance(pad, Pad) and pad.pad == 3
    assert strided == 4  # the stem and three stage-opening binary convolutions
    pools = [layer for layer in small_models["sibnn_resnet18"].layers
             if isinstance(layer, tf.keras.layers.MaxPool2D)]
    pad = pools[0]._inbound_nodes[0].inbound_layers  # the stem's 3×3/2 max pool, padding 1
    assert len(pools) == 1 and pools[0].padding == "valid"
    assert isinstance(pad, Pad) and pad.pad == 1 and pad.value == float("-inf")


def jpeg(pixels):
    encoded = tf.io.encode_jpeg(tf.constant(pixels, tf.uint8), quality=100)
    return encoded, tf.io.decode_jpeg(encoded).numpy().astype(np.float64)


@pytest.mark.parametrize("height, width", [(256, 301), (303, 256), (256, 256)])
def test_evaluation_is_the_central_crop(height, width):
    rng = np.random.default_rng(height + width)
    encoded, decoded = jpeg(rng.integers(0, 256, (height, width, 3)))
    out = preprocessing.sibnn(encoded, False, None).numpy()
    # torchvision's CenterCrop: int(round((size − 224) / 2)), Python's round (ties to even).
    top, left = int(round((height - 224) / 2)), int(round((width - 224) / 2))
    expected = (decoded[top:top + 224, left:left + 224] - MEAN) / STD
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_training_crop_is_a_window_of_the_image_maybe_flipped():
    rng = np.random.default_rng(0)
    encoded, decoded = jpeg(rng.integers(0, 256, (256, 262, 3)))
    flips = set()
    for i in range(6):
        seed = tf.constant([7, i], tf.int64)
        out = preprocessing.sibnn(encoded, True, seed).numpy() * STD + MEAN
        again = preprocessing.sibnn(encoded, True, seed).numpy() * STD + MEAN
        np.testing.assert_array_equal(out, again)  # stateless: the seed decides
        matches = []
        for flip in (False, True):
            image = decoded[:, ::-1] if flip else decoded
            for top in range(256 - 224 + 1):
                for left in range(262 - 224 + 1):
                    window = image[top:top + 224, left:left + 224]
                    if np.allclose(window[:2, :2], out[:2, :2], atol=1e-3) and np.allclose(
                            window, out, atol=1e-3):
                        matches.append(flip)
        assert len(matches) == 1
        flips.add(matches[0])
    assert flips == {False, True}


@pytest.mark.parametrize("height, width", [(300, 401), (500, 120), (180, 180)])
def test_any_image_becomes_224(height, width):
    encoded, _ = jpeg(np.zeros((height, width, 3)))
    for training, seed in ((False, None), (True, tf.constant([1, 2], tf.int64))):
        assert preprocessing.sibnn(encoded, training, seed).shape == (224, 224, 3)


@pytest.mark.parametrize("name", [*IMAGENET_MODELS, "sibnn_mlp"])
def test_sets_follow_the_code(name):
    raw = hparams.load_file(name)
    for set_name, body in raw.items():
        keys = list(body)
        assert keys[keys.index("description") + 1] == "source" and body["source"]
        hp = resolved(name, set_name, None)
        assert hp["adam_epsilon"] == 1e-8  # every set trains something with Adam
        assert hp.get("preprocess_fn") == ("sibnn" if name in IMAGENET_MODELS else None)
        if hp["optimizer"] == "adam":
            assert hp["kernel_quantizer"] == "sibnn_weight"
            assert hp["kernel_constraint"] == "weight_clip"


def test_an_imagenet_set_on_cifar_names_the_way_out():
    with pytest.raises(BnnoError, match="preprocesses with 'sibnn'.*--preprocess-fn"):
        plan("sibnn_resnet18", "cifar10", "sibnn")
    assert plan("sibnn_resnet18", "cifar10", "sibnn", {"preprocess_fn": "resize_and_flip"})
    assert plan("sibnn_mlp", "mnist", "sibnn").data.preprocess_fn == "default"
