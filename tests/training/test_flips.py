"""Flip counting (bnno.training.flips) against Bop steps made by hand, and its place in a run."""

import json
import math

import larq as lq
import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY

from bnno import optimizers
from bnno.config.kernels import kernel_settings
from bnno.training.build import _name_quantizer_metrics
from bnno.training.flips import FlipLog, flip_pi

W0 = np.array([1, 1, -1, -1, 1, -1], "float32")
TAU = 0.5
# One gradient per step. With gamma = 1 Bop's moving average m is the gradient itself,
# so weight i flips in a step iff w_i * g_i > TAU: the rows below decide every flip.
GRADS = np.array([
    [0.9, 0.0, -0.9, 0.0, 0.0, 0.0],   # flips w0, w2
    [0.0, 0.9, 0.0, 0.0, 0.0, 0.0],    # flips w1
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],    # nothing
    [-0.9, -0.9, 0.9, -0.9, 0.9, -0.9],  # w0, w1, w2 flip back; w3, w4, w5 flip
    [0.9, 0.9, 0.9, 0.9, 0.9, 0.9],    # the positive ones: w0, w1, w2, w4
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.2],    # below TAU: nothing
    [0.0, 0.0, 0.0, -0.9, 0.0, 0.0],   # w3
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],    # nothing
], "float32")
STEPS_PER_EPOCH = 4


def by_hand():
    """Kernels after each step and the fraction of weights flipped by each step."""
    w, kernels, ratios = W0.copy(), [], []
    for g in GRADS:
        flip = w * g > TAU
        ratios.append(flip.mean())
        w = np.where(flip, -w, w)
        kernels.append(w.copy())
    return kernels, ratios


def one_layer_bop_model():
    # y = x @ W with x = 1 and the loss sum(y_true * y): the gradient of the kernel is
    # y_true, so each batch's target is the gradient of that step.
    inp = tf.keras.Input((1,))
    layer = lq.layers.QuantDense(
        6, use_bias=False, name="binary",
        kernel_quantizer=lq.quantizers.NoOp(precision=1, metrics=["flip_ratio"]),
        kernel_initializer=tf.keras.initializers.Constant(W0[None, :]))
    model = tf.keras.Model(inp, layer(inp))
    _name_quantizer_metrics(model)
    options = {"threshold": TAU, "gamma": 1.0, "learning_rate": 0.01}
    model.compile(optimizer=optimizers.build("bop", options, STEPS_PER_EPOCH, STEPS_PER_EPOCH),
                  loss=lambda y, p: tf.reduce_sum(y * p, axis=-1))
    return model


def test_flip_log_counts_the_flips_of_hand_made_bop_steps(tmp_path):
    kernels, ratios = by_hand()
    model = one_layer_bop_model()
    log = FlipLog(tmp_path / "flips.jsonl", tmp_path / "tb", interval=2, first_epoch=0)
    # Eight batches of one example; the iterator runs on into the second epoch.
    batches = tf.data.Dataset.from_tensor_slices((np.ones((len(GRADS), 1), "float32"),
                                                  GRADS)).batch(1)
    history = model.fit(batches, epochs=2, steps_per_epoch=STEPS_PER_EPOCH, verbose=0,
                        callbacks=[log])
    np.testing.assert_array_equal(model.layers[1].kernel.numpy()[0], kernels[-1])

    rows = [json.loads(line) for line in (tmp_path / "flips.jsonl").read_text().splitlines()]
    # larq compares each forward pass with the previous one of the same epoch, so the
    # first row of an epoch holds step 1 of it, the second steps 2 and 3; the epoch's
    # last step is seen by no pass of that epoch.
    assert [(r["epoch"], r["step"], r["steps"]) for r in rows] == [
        (1, 2, 1), (1, 4, 2), (2, 6, 1), (2, 8, 2)]
    expected = [ratios[0], np.mean(ratios[1:3]), ratios[4], np.mean(ratios[5:7])]
    np.testing.assert_allclose([r["flip_ratio/binary"] for r in rows], expected, atol=1e-6)
    np.testing.assert_allclose([r["flip_pi/binary"] for r in rows],
                               [math.log(e + math.exp(-9)) for e in expected], atol=1e-5)
    assert rows[0]["flip_ratio_all"] == pytest.approx(2 / 6)

    # Per epoch: the mean over the counted steps, in the epoch logs.
    per_epoch = [np.mean(ratios[0:3]), np.mean(ratios[4:7])]
    np.testing.assert_allclose(history.history["flip_ratio/binary"], per_epoch, atol=1e-6)
    np.testing.assert_allclose(history.history["flip_pi/binary"],
                               [flip_pi(r) for r in per_epoch], atol=1e-5)
    assert list((tmp_path / "tb").iterdir())  # TensorBoard events of the intervals


def test_pi_is_floored_at_minus_nine():
    assert flip_pi(0.0) == pytest.approx(-9.0)
    assert flip_pi(1.0) == pytest.approx(math.log(1 + math.exp(-9)))


@pytest.mark.slow
def test_a_run_logs_pi_per_epoch_and_flips_per_interval(mock_tfds, cli, tmp_path):
    out = tmp_path / "run"
    code, _, err = cli("train", "binarynet", "--dataset", "cifar10", "--hparams-set", "bop",
                       "--hparams", TINY.replace("epochs=1", "epochs=2"),
                       "--output-dir", str(out), "--steps-per-epoch", "3",
                       "--validation-steps", "1", "--seed", "1")
    assert code == 0, err
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    for row in rows:
        pis = {k: v for k, v in row.items() if k.startswith("flip_pi/")}
        assert len(pis) == 9
        for key, pi in pis.items():
            assert pi == pytest.approx(flip_pi(row["flip_ratio/" + key[len("flip_pi/"):]]))
        assert -9.0 <= row["flip_pi_all"] <= 0
    steps = [json.loads(line) for line in (out / "flips.jsonl").read_text().splitlines()]
    assert [(r["epoch"], r["step"], r["steps"]) for r in steps] == [(1, 3, 2), (2, 6, 2)]
    assert list((out / "logs" / "flips").iterdir())


def test_scaled_kernels_count_sign_changes():
    """magnitude_aware_sign gives α·sign(w) with α < 1; a flip is a change of sign."""
    settings = kernel_settings({"kernel_quantizer": "magnitude_aware_sign"}, "adam")
    layer = lq.layers.QuantDense(4, use_bias=False, name="binary", **settings)
    model = tf.keras.Sequential([tf.keras.Input((1,)), layer])
    _name_quantizer_metrics(model)
    kernels = [[0.2, -0.1, 0.3, 0.4],
               [0.1, -0.2, -0.3, 0.4],   # one sign changes, all magnitudes but one too
               [-0.1, 0.2, 0.3, -0.4]]   # all four change
    outputs = []
    for kernel in kernels:
        layer.kernel.assign([kernel])
        outputs.append(model(tf.ones((1, 1))).numpy())
    metric = layer.kernel_quantizer.flip_ratio
    assert metric.name == "flip_ratio/binary"
    assert float(metric.result()) == pytest.approx((1 / 4 + 4 / 4) / 2)
    # The kernel is larq's scaled sign (per output column α = |w| here).
    larq_sign = lq.quantizers.MagnitudeAwareSign()
    np.testing.assert_allclose(outputs[-1], larq_sign(tf.constant([kernels[-1]])).numpy())
