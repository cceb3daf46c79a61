"""The Bop paper's ImageNet models: layers, exact parameter counts, any input shape;
and every hparam set resolves to the paper's (or Larq Zoo's) values."""

import larq as lq
import numpy as np
import pytest
import tensorflow as tf
from conftest import build_flat, build_optimizer, resolved

from bnno import models, optimizers, schedules
from bnno.analysis.summary import profile
from bnno.config import TrainerConfig
from bnno.training.build import run_length

IMAGENET = 1_281_167


def resolve(model, set_name, overrides=None):
    return resolved(model, set_name, overrides)


def build(model, set_name="bop", shape=(224, 224, 3), classes=1000):
    return build_flat(model, resolve(model, set_name), shape, classes)


def of_type(model, kind):
    return [layer for layer in model.layers if isinstance(layer, kind)]


BN = tf.keras.layers.BatchNormalization


@pytest.mark.slow
def test_alexnet_is_an_alias():
    assert models.canonical("alexnet") == "binary_alexnet"
    assert models.get("alexnet") is models.get("binary_alexnet")


# Counts of the paper's code, by hand: kernels (no biases) and 4 values per BN channel
# (γ, β trainable; moving mean and variance not).
ALEXNET_BINARY = (11 * 11 * 3 * 64 + 5 * 5 * 64 * 192 + 9 * 192 * 384 + 9 * 384 * 384
                  + 9 * 384 * 256 + 6 * 6 * 256 * 4096 + 4096 * 4096 + 4096 * 1000)
ALEXNET_BN = 64 + 192 + 384 + 384 + 256 + 4096 + 4096 + 1000
XNOR_BINARY = (25 * 96 * 256 + 9 * 256 * 384 + 9 * 384 * 384 + 9 * 384 * 256
               + 36 * 256 * 4096 + 4096 * 4096)
XNOR_FP = 11 * 11 * 3 * 96 + 4096 * 1000
XNOR_BN = 96 + 96 + 256 + 384 + 384 + 256 + 4096 + 4096
# Bi-Real 18: four stages of four 3×3 binary convolutions; three downsampling 1×1s.
BIREAL_BINARY = 9 * (64 * 64 * 4 + (64 * 128 + 3 * 128 * 128) + (128 * 256 + 3 * 256 * 256)
                     + (256 * 512 + 3 * 512 * 512))
BIREAL_FP = 7 * 7 * 3 * 64 + 64 * 128 + 128 * 256 + 256 * 512 + 512 * 1000 + 1000
BIREAL_BN = 64 + 4 * 64 + 4 * 128 + 4 * 256 + 4 * 512 + 128 + 256 + 512


@pytest.mark.usefixtures("graph_mode")
@pytest.mark.slow
@pytest.mark.parametrize("model, binary, fp, bn", [
    ("binary_alexnet", ALEXNET_BINARY, 0, ALEXNET_BN),
    ("xnornet", XNOR_BINARY, XNOR_FP, XNOR_BN),
    ("birealnet", BIREAL_BINARY, BIREAL_FP, BIREAL_BN),
])
def test_exact_imagenet_parameter_counts(model, binary, fp, bn):
    counts = profile(build(model))
    assert counts["binary_params"] == binary
    assert counts["total_params"] == binary + fp + 4 * bn
    assert counts["trainable_params"] == binary + fp + 2 * bn
    assert profile(build(model, "adam")) == counts  # same network, latent kernels
    # The published totals: 61 869 664, 62 406 432 and 11 699 112 parameters.
    assert counts["total_params"] == {"binary_alexnet": 61_869_664, "xnornet": 62_406_432,
                                      "birealnet": 11_699_112}[model]


@pytest.mark.usefixtures("graph_mode")
@pytest.mark.slow
def test_alexnet_layers():
    model = build("binary_alexnet")
    quant = of_type(model, lq.layers.QuantizerBase)
    assert [type(q).__name__ for q in quant] == ["QuantConv2D"] * 5 + ["QuantDense"] * 3
    assert [q.kernel_size for q in quant[:5]] == [(11, 11), (5, 5), (3, 3), (3, 3), (3, 3)]
    assert quant[0].strides == (4, 4) and all(q.padding == "same" for q in quant[:5])
    assert quant[0].input_quantizer is None
    assert all(isinstance(q.input_quantizer, lq.quantizers.SteSign) for q in quant[1:])
    assert all(not q.use_bias for q in quant)
    bns = of_type(model, BN)
    assert len(bns) == 8 and all(b.momentum == 0.9 and b.scale for b in bns)
    pools = of_type(model, tf.keras.layers.MaxPooling2D)
    assert [(p.pool_size, p.strides, p.padding) for p in pools] == [((3, 3), (2, 2), "valid")] * 3
    # Bop trains every binary kernel, the first included.
    assert len(optimizers.binary_kernels(model)) == 8


@pytest.mark.usefixtures("graph_mode")
@pytest.mark.slow
def test_xnornet_layers():
    model = build("xnornet")
    bns = of_type(model, BN)
    assert [b.epsilon for b in bns] == [1e-5] + [1e-4] * 6 + [1e-3]
    assert all(b.momentum == 0.9 and b.scale for b in bns)
    fp = [layer for layer in model.layers
          if type(layer) in (tf.keras.layers.Conv2D, tf.keras.layers.Dense)]
    assert [type(f).__name__ for f in fp] == ["Conv2D", "Dense"]
    assert all(f.kernel_regularizer.get_config()["l2"] == pytest.approx(5e-7) for f in fp)
    quant = of_type(model, lq.layers.QuantConv2D)
    assert [q.filters for q in quant] == [256, 384, 384, 256, 4096, 4096]
    assert [q.kernel_size for q in quant[-2:]] == [(6, 6), (1, 1)]
    assert all(q.kernel_regularizer is None and not q.use_bias for q in quant)
    assert len(optimizers.binary_kernels(model)) == 6
    assert len(model.losses) == 2


@pytest.mark.usefixtures("graph_mode")
@pytest.mark.slow
def test_birealnet_layers():
    model = build("birealnet")
    quant = of_type(model, lq.layers.QuantConv2D)
    assert len(quant) == 16 and all(q.kernel_size == (3, 3) for q in quant)
    assert all(isinstance(q.input_quantizer, lq.quantizers.ApproxSign) for q in quant)
    assert [q.strides[0] for q in quant] == [1] * 4 + [2, 1, 1, 1] * 3
    assert len(of_type(model, tf.keras.layers.Add)) == 16
    shortcuts = [c for c in of_type(model, tf.keras.layers.Conv2D) if c.kernel_size == (1, 1)]
    assert [c.filters for c in shortcuts] == [128, 256, 512]
    assert len(of_type(model, tf.keras.layers.AveragePooling2D)) == 3
    assert all(b.momentum == 0.8 for b in of_type(model, BN))
    assert len(optimizers.binary_kernels(model)) == 16  # stem, shortcuts, dense: Adam


def value_at(hp, key, step, steps_per_epoch, total):
    return float(schedules.build(hp[key], steps_per_epoch, total)(step))


@pytest.mark.slow
@pytest.mark.parametrize("model, epochs", [("binary_alexnet", 150), ("xnornet", 100),
                                           ("birealnet", 300)])
def test_bop_sets_are_the_papers(model, epochs):
    hp = resolve(model, "bop")
    assert (hp["optimizer"], hp["threshold"], hp["batch_size"], hp["epochs"]) == (
        "bop", 1e-8, 1024, epochs)
    assert hp["kernel_quantizer"] is None and hp["kernel_constraint"] is None
    total = run_length(TrainerConfig(hp["epochs"], hp["batch_size"]), IMAGENET)
    assert total == epochs * IMAGENET // 1024  # the paper's decay_step
    steps = IMAGENET // 1024
    for key, start, end in (("gamma", 1e-4, 1e-6), ("learning_rate", 2.5e-3, 5e-6)):
        got = [value_at(hp, key, s, steps, total) for s in (0, total / 2, total)]
        np.testing.assert_allclose(got, [start, (start + end) / 2, end], rtol=1e-5)
    if model == "xnornet":
        assert hp["l2"] == 5e-7


@pytest.mark.slow
def test_adam_sets_are_larq_zoos():
    alex = resolve("binary_alexnet", "adam")
    assert (alex["batch_size"], alex["epochs"], alex["optimizer"]) == (512, 150, "adam")
    assert (alex["kernel_quantizer"], alex["kernel_constraint"]) == ("ste_sign", "weight_clip")
    spe = IMAGENET // 512
    for epoch in (0, 9, 10, 75, 149):  # 1e-2 × 0.5^(epoch // 10)
        np.testing.assert_allclose(value_at(alex, "learning_rate", epoch * spe, spe, 0),
                                   1e-2 * 0.5 ** (epoch // 10), rtol=1e-6)
    xnor = resolve("xnornet", "adam")
    assert (xnor["batch_size"], xnor["epochs"], xnor["l2"]) == (1200, 100, 5e-7)
    spe = IMAGENET // 1200
    expected = {0: 1e-3, 18: 1e-3, 19: 5e-4, 30: 1e-4, 44: 5e-5, 53: 1e-5, 66: 5e-6, 76: 1e-6,
                86: 1e-7, 99: 1e-7}
    for epoch, lr in expected.items():
        np.testing.assert_allclose(value_at(xnor, "learning_rate", epoch * spe, spe, 0), lr,
                                   rtol=1e-6)
    bireal = resolve("birealnet", "adam")
    assert (bireal["batch_size"], bireal["epochs"]) == (512, 300)
    got = [value_at(bireal, "learning_rate", s, IMAGENET // 512, 0) for s in (0, 375342, 750684)]
    np.testing.assert_allclose(got, [5e-3, 2.5e-3, 0.0], atol=1e-9)


@pytest.mark.slow
def test_binarynet_sec52_adam_baseline():
    hp = resolve("binarynet", "adam_sec52")
    assert (hp["epochs"], hp["batch_size"], hp["optimizer"]) == (500, 50, "adam")
    assert (hp["filters"], hp["dense_units"]) == (128, 1024)
    spe = 50_000 // 50
    got = [value_at(hp, "learning_rate", s, spe, 0) for s in (0, 99_999, 100_000, 499_999)]
    np.testing.assert_allclose(got, [1e-3, 1e-3, 1e-4, 1e-7], rtol=1e-5)


@pytest.mark.slow
def test_whole_run_schedule_follows_shortened_epochs():
    hp = resolve("birealnet", "bop", "epochs=2")
    trainer = TrainerConfig(epochs=2, batch_size=hp["batch_size"], steps_per_epoch=5)
    assert run_length(trainer, IMAGENET) == 10
    opt = build_optimizer(hp, 5)
    gamma = opt.optimizers[0]._get_hyper("gamma")
    np.testing.assert_allclose(float(gamma(10)), 1e-6, rtol=1e-5)
