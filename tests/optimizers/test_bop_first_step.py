"""The first Bop and Bop2ndOrder steps as the official code takes them: the kernels are
Keras' Glorot draw, used real-valued by the first forward pass, and the first update
(the official rule, transcribed in ``bop_references``) writes ±1 into them. The Bop
paper's ``bop`` set, and the Bop2ndOrder code's biased and bias-corrected sets, on a
narrow BinaryNet; the flip ratio of that first update counts sign changes."""

import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from conftest import plan_tiny

from bnno import optimizers
from bnno.training.build import build_model, compile_model

sys.path.insert(0, str(Path(__file__).parent))
import bop_references as official  # noqa: E402

# Narrow, with every Glorot bound under 0.316 (the first convolution's is 0.309, the last
# dense layer's 0.285), the |w| above which the biased set's first update could flip.
TINY = "filters=4,dense_units=64"


def _built(set_name: str, seed: int = 3):
    config = plan_tiny("binarynet", "cifar10", set_name, TINY)
    tf.keras.utils.set_random_seed(seed)
    net = build_model(config.model, config.optimizer.name, (32, 32, 3), 10)
    compile_model(net, config.optimizer, 500, 50_000)
    return net, config.optimizer.options


def _batch():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (16, 32, 32, 3)).astype("float32")
    return x, np.eye(10, dtype="float32")[rng.integers(0, 10, 16)]


def _first_update(net):
    """Binary kernels before and after one optimizer step, and their gradients (taken at
    the network as it is: the real-valued kernels)."""
    x, y = _batch()
    kernels = optimizers.binary_kernels(net)
    before = [k.numpy() for k in kernels]
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.keras.losses.categorical_crossentropy(y, net(x, training=True)))
    grads = tape.gradient(loss, net.trainable_variables)
    net.optimizer.apply_gradients(zip(grads, net.trainable_variables, strict=True))
    by_id = {id(v): g.numpy() for v, g in zip(net.trainable_variables, grads, strict=True)}
    return before, [by_id[id(k)] for k in kernels], [k.numpy() for k in kernels]


def test_latent_free_kernels_start_as_the_initialisers_glorot_draw():
    latent, _ = _built("default")  # ste_sign latent weights: the same draws
    net, _ = _built("bop")
    pairs = zip(optimizers.binary_kernels(net), [v for v in latent.trainable_variables
                                                 if "kernel" in v.name], strict=True)
    for kernel, draw in pairs:
        values = kernel.numpy()
        np.testing.assert_array_equal(values, draw.numpy())
        assert np.abs(values).max() <= official.glorot_limit(values.shape)
        assert len(np.unique(values)) > 2  # real, not ±1


@pytest.mark.parametrize("set_name", ["bop", "bop2ndOrder", "bop2ndOrder_unbiased"])
def test_the_first_step_from_glorot_kernels_is_the_official_rule(set_name):
    net, options = _built(set_name)
    before, grads, after = _first_update(net)
    flipped = 0
    for w0, g1, w1 in zip(before, grads, after, strict=True):
        assert len(np.unique(w0)) > 2  # the first forward pass ran real kernels
        zeros = np.zeros_like(w0)
        if set_name == "bop":
            expected = official.bop_plumerai(w0, zeros, g1, options["gamma"],
                                             options["threshold"])[0]
            # larq's form of the moment gives the same first update.
            np.testing.assert_array_equal(expected, official.bop_larq(
                w0, zeros, g1, options["gamma"], options["threshold"])[0])
        else:
            rule = (official.bop2ndorder_unbiased if options["bias_correction"]
                    else official.bop2ndorder)
            expected = rule(w0, zeros, zeros, g1, options["gamma"], options["sigma"],
                            options["threshold"])[0]
        np.testing.assert_array_equal(w1, expected)
        assert set(np.unique(w1)) <= {-1.0, 1.0}  # the first update writes ±1
        flipped += int((w1 != official.lq_sign(w0)).sum())
    total = sum(w.size for w in before)
    if set_name == "bop2ndOrder":
        # γ/√σ·|w| stays under τ for every Glorot weight: nothing flips, w₁ = sign(w₀).
        assert flipped == 0
    elif set_name == "bop2ndOrder_unbiased":
        # The signal is about w·sign(g): w₁ = −sign(g₁) wherever the signs agree.
        assert flipped > 0.3 * total


@pytest.mark.slow
def test_the_flip_ratio_of_the_first_update_counts_flips_against_the_initial_signs(
        mock_tfds, tmp_path):
    import json

    from conftest import train_tiny

    run = train_tiny("binarynet", "cifar10", "bop2ndOrder", TINY + ",batch_size=4,epochs=1",
                     tmp_path / "run", steps_per_epoch=2, validation_steps=1, seed=1)
    (row,) = [json.loads(line) for line in (run / "metrics.jsonl").open()]
    # Two passes: the second sees the first update, which flips nothing under this set
    # (larq's int8 count would see every real weight as 0 and report 1).
    assert row["flip_ratio_all"] == 0.0
