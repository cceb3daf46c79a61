"""Bop2ndOrder through bnno's optimizer factory: several steps equal NumPy transcriptions
of the official code's rules (``Bop2ndOrder``, and ``Bop2ndOrder_unbiased`` for
``bias_correction``: m/γ and v/σ with the current γ and σ, across step decays too), with
and without schedules; its slots resume from a checkpoint; Adam trains the rest."""

import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from conftest import build_optimizer, resolved

from bnno import optimizers

sys.path.insert(0, str(Path(__file__).parent))
import bop_references as official  # noqa: E402


def reference(w, grads, tau, gamma, sigma, bias_correction):
    """The official rule, step by step; ``tau``/``gamma``/``sigma`` are functions of the
    0-based step (what a schedule gives at the optimizer's step count)."""
    rule = official.bop2ndorder_unbiased if bias_correction else official.bop2ndorder
    return official.run_bop2ndorder(w, grads, gamma, sigma, tau, rule)


def run(hp, w, grads):
    kernel = tf.Variable(w)
    kernel.precision = 1  # what NoOp(precision=1) sets on a layer's kernel
    beta = tf.Variable(np.zeros(w.shape[-1], "float32"))
    opt = build_optimizer({"optimizer": "bop2ndorder", "learning_rate": 0.01, **hp}, 2)
    for g in grads:
        opt.apply_gradients([(tf.constant(g), kernel), (tf.ones_like(beta), beta)])
    return kernel, beta, opt


def data(steps=6, seed=0):
    rng = np.random.default_rng(seed)
    w = np.where(rng.random((4, 8)) < 0.5, -1.0, 1.0).astype("float32")
    # Gradients that drift, so the moments and the correction matter over the steps.
    grads = [(rng.normal(size=w.shape) + 0.3 * t).astype("float32") for t in range(steps)]
    return w, grads


@pytest.mark.parametrize("bias_correction", [False, True])
def test_steps_equal_the_numpy_rule(bias_correction):
    w, grads = data()
    hp = {"threshold": 0.3, "gamma": 0.2, "sigma": 0.05, "bias_correction": bias_correction}
    kernel, beta, opt = run(hp, w, grads)
    expected = reference(w, grads, lambda t: 0.3, lambda t: 0.2, lambda t: 0.05,
                         bias_correction)
    np.testing.assert_array_equal(kernel.numpy(), expected)
    assert 0 < (expected != w).mean() < 1  # some weights flipped, not all
    assert optimizers.step_count(opt) == len(grads)
    np.testing.assert_allclose(beta.numpy(), -0.01 * len(grads), rtol=1e-2)  # Adam's


def test_bias_correction_changes_the_early_flips():
    # Small rates: the biased signal is about w·(γ/√σ)·sign(g) = 0.1 < τ early on, the
    # corrected one about w·sign(g)·√t, above τ.
    w, grads = data()
    hp = {"threshold": 0.3, "gamma": 0.01, "sigma": 0.01}
    biased = run({**hp, "bias_correction": False}, w, grads)[0].numpy()
    corrected = run({**hp, "bias_correction": True}, w, grads)[0].numpy()
    np.testing.assert_array_equal(biased, w)  # nothing flipped
    assert (biased != corrected).any()


@pytest.mark.parametrize("bias_correction", [False, True])
def test_schedules_are_read_at_each_step(bias_correction):
    w, grads = data(steps=6, seed=1)
    hp = {"threshold": {"schedule": "exponential_decay", "initial": 0.4, "decay_steps": 2,
                        "decay_rate": 0.5, "staircase": True},
          "gamma": {"schedule": "piecewise_constant", "values": [0.3, 0.1],
                    "boundaries": [3]},
          "sigma": {"schedule": "exponential_decay", "initial": 0.1, "decay_steps": 1,
                    "decay_rate": 0.8},
          "bias_correction": bias_correction}
    kernel, _, _ = run(hp, w, grads)
    expected = reference(w, grads, lambda t: 0.4 * 0.5 ** (t // 2),
                         lambda t: 0.3 if t <= 3 else 0.1, lambda t: 0.1 * 0.8 ** t,
                         bias_correction)
    np.testing.assert_array_equal(kernel.numpy(), expected)


def test_a_resumed_optimizer_continues_where_it_stopped(tmp_path):
    w, grads = data()
    hp = {"threshold": 0.3, "gamma": 0.2, "sigma": 0.05, "bias_correction": True}
    through, _, _ = run(hp, w, grads)

    kernel, beta, opt = run(hp, w, grads[:3])
    path = tf.train.Checkpoint(kernel=kernel, beta=beta, opt=opt).write(str(tmp_path / "c"))
    kernel2 = tf.Variable(np.zeros_like(w))
    kernel2.precision = 1
    beta2 = tf.Variable(np.zeros(w.shape[-1], "float32"))
    opt2 = build_optimizer({"optimizer": "bop2ndorder", "learning_rate": 0.01, **hp}, 2)
    # Slots exist once the optimizer has seen its variables; then the checkpoint fills them.
    opt2.apply_gradients([(tf.zeros_like(kernel2), kernel2), (tf.zeros_like(beta2), beta2)])
    tf.train.Checkpoint(kernel=kernel2, beta=beta2, opt=opt2).read(path).assert_consumed()
    assert optimizers.step_count(opt2) == 3
    for g in grads[3:]:
        opt2.apply_gradients([(tf.constant(g), kernel2), (tf.ones_like(beta2), beta2)])
    np.testing.assert_array_equal(kernel2.numpy(), through.numpy())


def test_sigma_and_the_correction_are_options_of_the_optimizer():
    hp = resolved("binarynet", "bop", "optimizer=bop2ndorder,sigma=1e-3,bias_correction=true")
    assert (hp["sigma"], hp["bias_correction"]) == (1e-3, True)
    assert "sigma" in optimizers.get("bop2ndorder").logged


@pytest.mark.slow
def test_a_run_logs_its_hyperparameters_and_flips(mock_tfds, cli, tmp_path):
    import json

    code, _, err = cli("train", "binarynet", "--dataset", "cifar10", "--hparams-set", "bop",
                       "--preprocess-fn", "default", "--hparams",
                       "optimizer=bop2ndorder,sigma=1e-3,bias_correction=true,filters=4,"
                       "dense_units=8,batch_size=4,epochs=1", "--steps-per-epoch", "3",
                       "--validation-steps", "1", "--output-dir", str(tmp_path / "run"),
                       "--no-tensorboard")
    assert code == 0, err
    (row,) = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    assert row["sigma"] == pytest.approx(1e-3) and row["gamma"] == pytest.approx(1e-3)
    assert row["threshold"] == pytest.approx(1e-6)
    assert any(k.startswith("flip_ratio/") for k in row)


@pytest.mark.parametrize("bias_correction", [False, True])
def test_step_decays_multiply_every_epochs_decay_epochs(bias_correction):
    # The README's schedule keys: with 2 steps per epoch and epochs_decay 1, each value
    # is multiplied by its factor every 2 steps (a factor of 1 keeps it).
    w, grads = data(steps=6, seed=2)
    hp = {"threshold": 0.4, "gamma": 0.3, "sigma": 0.1, "epochs_decay": 1,
          "threshold_decay": 0.5, "gamma_decay": 0.25, "sigma_decay": 1.0,
          "bias_correction": bias_correction}
    kernel, _, _ = run(hp, w, grads)
    expected = reference(w, grads, lambda t: 0.4 * 0.5 ** (t // 2),
                         lambda t: 0.3 * 0.25 ** (t // 2), lambda t: 0.1, bias_correction)
    np.testing.assert_array_equal(kernel.numpy(), expected)
    undecayed = reference(w, grads, lambda t: 0.4, lambda t: 0.3, lambda t: 0.1,
                          bias_correction)
    assert (expected != undecayed).any()  # the decay changed which weights flipped


@pytest.mark.parametrize("hp, message", [
    ({"gamma_decay": 0.1}, "gamma_decay needs epochs_decay"),
    ({"epochs_decay": 10, "threshold": {"schedule": "polynomial_decay", "initial": 1e-6,
                                        "end": 1e-8}, "threshold_decay": 0.1},
     "'threshold' is a schedule"),
    ({"optimizer": "bop", "gamma_decay": 0.1}, "optimizer bop has no option 'gamma_decay'"),
])
def test_impossible_step_decays_are_refused_in_one_line(hp, message):
    from bnno.errors import BnnoError

    full = {"optimizer": "bop2ndorder", "threshold": 1e-6, "gamma": 1e-6,
            "learning_rate": 0.01, **hp}
    name = full.pop("optimizer")
    with pytest.raises(BnnoError, match=message) as error:
        optimizers.get(name).check(full)
    assert "\n" not in str(error.value)


def test_the_correction_reads_the_current_rates_across_a_decay():
    """Official Bop2ndOrder_unbiased under a step decay of γ and σ (×0.1 after 3 steps):
    with a constant gradient its signal (m/γ_t)/√(v/σ_t) runs 1, 1.41, 1.72, then jumps to
    5.54 at the first step after the decay; with τ = 3 the weight flips exactly there. (A
    correction by 1 − Π(1 − γ_i) would keep the signal near 1 and flip nothing.)"""
    w = np.array([[1.0, -1.0]], "float32")
    grads = [np.ones_like(w)] * 5
    hp = {"threshold": 3.0, "gamma": 0.01, "sigma": 0.01, "epochs_decay": 1,
          "gamma_decay": 0.1, "sigma_decay": 0.1, "bias_correction": True}
    kernel = tf.Variable(w)
    kernel.precision = 1
    opt = build_optimizer({"optimizer": "bop2ndorder", "learning_rate": 0.01, **hp}, 3)
    seen = []
    for g in grads:
        opt.apply_gradients([(tf.constant(g), kernel)])
        seen.append(kernel.numpy()[0].tolist())
    assert seen == [[1, -1], [1, -1], [1, -1], [-1, -1], [-1, -1]]
    decayed = official.staircase(0.01, 3, 0.1)
    expected = official.run_bop2ndorder(w, grads, decayed, decayed, lambda t: 3.0,
                                        official.bop2ndorder_unbiased)
    np.testing.assert_array_equal(kernel.numpy(), expected)
