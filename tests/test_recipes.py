"""The Bop paper's recipes as its code runs them: binarynet's Adam baseline trains the
network of ``bop``, every set names its preprocessing and its source, and the Larq Zoo
sets binarize their kernels as Larq Zoo does."""

from pathlib import Path

import larq as lq
import numpy as np
import pytest
import tensorflow as tf
from conftest import plan_tiny, resolved

from bnno import hparams, models
from bnno.config.kernels import kernel_settings

BOP_PAPER_MODELS = ("binarynet", "binary_alexnet", "xnornet", "birealnet")


def resolve(model, set_name):
    return resolved(model, set_name)


def binarynet(set_name):
    kwargs = models.builder_kwargs("binarynet", resolve("binarynet", set_name))
    return models.get("binarynet")((32, 32, 3), 10, **kwargs)


def test_binarynet_default_is_the_network_of_bop():
    default, bop = binarynet("default"), binarynet("bop")
    assert [w.shape for w in default.weights] == [w.shape for w in bop.weights]
    # By hand, at filters 128 and dense 1024 on 32×32×3 images: the first 3×3 convolution
    # is "valid" (32 -> 30), then three 2×2 pools (30 -> 15 -> 7 -> 3), so the first dense
    # layer sees 3·3·512 values. No biases; batch norm without scale keeps β, the moving
    # mean and the moving variance of each channel.
    flat = 3 * 3 * 512
    assert next(layer for layer in default.layers
                if isinstance(layer, tf.keras.layers.Flatten)).output_shape == (None, flat)
    kernels = (3 * 3 * 3 * 128 + 3 * 3 * 128 * 128 + 3 * 3 * 128 * 256 + 3 * 3 * 256 * 256
               + 3 * 3 * 256 * 512 + 3 * 3 * 512 * 512 + flat * 1024 + 1024 * 1024 + 1024 * 10)
    channels = 128 + 128 + 256 + 256 + 512 + 512 + 1024 + 1024 + 10
    assert default.count_params() == bop.count_params() == kernels + 3 * channels


@pytest.mark.parametrize("set_name", hparams.set_names("binarynet"))
def test_binarynet_sets_preprocess_as_the_papers_code(set_name):
    assert resolve("binarynet", set_name)["preprocess_fn"] == "resize_and_flip"
    assert plan_tiny("binarynet", "cifar10", set_name, seed=1).data.preprocess_fn == (
        "resize_and_flip")
    # The paper README's command lines name it explicitly; they still work.
    config = plan_tiny("binarynet", "cifar10", set_name, preprocess_fn="resize_and_flip", seed=1)
    assert config.data.preprocess_fn == "resize_and_flip"


def test_first_readme_command_trains_the_papers_adam_baseline():
    config = plan_tiny("binarynet", "cifar10", seed=1)  # bnno train binarynet --dataset cifar10
    assert config.hparams_set == "default" and config.data.preprocess_fn == "resize_and_flip"
    assert (config.model.hparams["filters"], config.model.hparams["dense_units"],
            config.trainer.batch_size, config.optimizer.options["learning_rate"]) == (
        128, 1024, 256, 5e-3)


@pytest.mark.parametrize("model", ["binary_alexnet", "xnornet", "birealnet"])
@pytest.mark.parametrize("set_name", ["bop", "adam"])
def test_imagenet_sets_preprocess_for_any_dataset(model, set_name):
    assert resolve(model, set_name)["preprocess_fn"] == "default"
    for dataset in ("imagenet2012", "cifar10"):
        assert plan_tiny(model, dataset, set_name, seed=1).data.preprocess_fn == "default"


@pytest.mark.parametrize("model", BOP_PAPER_MODELS)
def test_every_set_names_its_source_after_its_description(model):
    for name, raw in hparams.load_file(model).items():
        assert list(raw)[:2] == ["description", "source"], name
        assert raw["source"].strip(), name


def test_larq_zoo_sets_scale_their_kernels_as_larq_zoo():
    # Larq Zoo: Bi-Real Net's magnitude_aware_sign and XNOR-Net's xnor_weight_scale, on
    # kernels clipped to [-1, 1]: the mean |w| of each output channel times sign(w).
    w = np.random.default_rng(0).uniform(-1, 1, (3, 3, 4, 5)).astype(np.float32)
    w[np.abs(w) < 1e-3] = 0.5  # no zeros: sign(0) differs between conventions
    expected = np.abs(w).mean(axis=(0, 1, 2)) * np.sign(w)
    for model in ("xnornet", "birealnet"):
        settings = kernel_settings(resolve(model, "adam"), "adam")
        quantizer = lq.quantizers.get(settings["kernel_quantizer"])
        np.testing.assert_allclose(quantizer(tf.constant(w)).numpy(), expected, rtol=1e-6)


def test_xnor_weight_equals_larq_zoos_forward_and_gradient():
    # Larq Zoo's xnor_weight_scale on the same kernels and output gradient, recorded by
    # benchmarks/larq_zoo_fixtures.py.
    from bnno.quantizers.xnor_weight import XnorWeight

    with np.load(Path(__file__).parent / "fixtures" / "larq_zoo.npz") as zoo:
        w, g, zoo_y, zoo_grad = (zoo[k] for k in ("xnor_w", "xnor_g", "xnor_y", "xnor_grad"))
    x = tf.constant(w)
    with tf.GradientTape() as tape:
        tape.watch(x)
        ours = XnorWeight()(x)
    our_grad = tape.gradient(ours, x, output_gradients=tf.constant(g))
    np.testing.assert_allclose(ours.numpy(), zoo_y, rtol=1e-6)
    np.testing.assert_allclose(our_grad.numpy(), zoo_grad, rtol=1e-5, atol=1e-7)
    # An independent transcription: 1[|w| <= 1]·(α·g + sign(w)·mean(sign(w)·g)) per channel.
    c = np.clip(w, -1, 1)
    alpha = np.abs(c).mean(axis=(0, 1, 2))
    s = np.sign(c)
    expected = (np.abs(w) <= 1) * (alpha * g + s * (s * g).mean(axis=(0, 1, 2)))
    np.testing.assert_allclose(our_grad.numpy(), expected, rtol=1e-5, atol=1e-6)
