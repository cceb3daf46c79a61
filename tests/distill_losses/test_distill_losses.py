"""ReActNet's DistributionLoss against a NumPy transcription of the official
``utils/KD_loss.py``: value, the student's gradient, none for the teacher."""

import numpy as np
import pytest
import tensorflow as tf

from bnno import distill_losses
from bnno.distill_losses.distribution import distribution_loss


def official(student, teacher):
    """``DistributionLoss.forward``: log_softmax(student), softmax(teacher),
    −bmm(teacher (B,1,C), log-probs (B,C,1)), mean over the batch."""
    shifted = student - student.max(1, keepdims=True)
    log_prob = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    soft = np.exp(teacher - teacher.max(1, keepdims=True))
    soft = soft / soft.sum(1, keepdims=True)
    cross = -np.matmul(soft[:, None, :], log_prob[:, :, None])  # (B, 1, 1)
    return cross.mean()


@pytest.mark.slow
def test_value_and_gradients_equal_the_official_loss():
    rng = np.random.default_rng(0)
    student = rng.normal(scale=3, size=(6, 10))
    teacher = rng.normal(scale=3, size=(6, 10))
    s, t = tf.constant(student, tf.float32), tf.constant(teacher, tf.float32)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([s, t])
        loss = distribution_loss(s, t)
    np.testing.assert_allclose(float(loss), official(student, teacher), rtol=1e-6)
    # d/dz_s of mean_b(−Σ p_t log softmax(z_s)) = (softmax(z_s) − p_t) / B.
    p_s = np.exp(student) / np.exp(student).sum(1, keepdims=True)
    p_t = np.exp(teacher) / np.exp(teacher).sum(1, keepdims=True)
    np.testing.assert_allclose(tape.gradient(loss, s).numpy(), (p_s - p_t) / 6, atol=1e-7)
    assert tape.gradient(loss, t) is None


def test_the_registered_loss_of_one_teacher_is_the_official_one():
    rng = np.random.default_rng(1)
    student, teacher = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    loss = distill_losses.get("distribution")(tf.constant(student, tf.float32),
                                               [tf.constant(teacher, tf.float32)])
    np.testing.assert_allclose(float(loss), official(student, teacher), rtol=1e-6)
    # Today's consecutive loss of one teacher is half its cross entropy.
    half = distill_losses.get("consecutive")(tf.constant(student, tf.float32),
                                              [tf.constant(teacher, tf.float32)])
    np.testing.assert_allclose(float(half), official(student, teacher) / 2, rtol=1e-6)


def test_a_recipe_chooses_its_loss_and_runs_without_one_keep_todays():
    import pytest

    from bnno.config import RunConfig
    from bnno.config.plan import check_set
    from bnno.errors import BnnoError

    staged = check_set("reactnet_a", "reactnet")
    assert staged.trainer.distill_loss == "distribution"
    assert check_set("bnext_t", "imagenet").trainer.distill_loss == "consecutive"
    # A run.json written before the key: today's loss.
    old = staged.trainer.__class__(epochs=1, batch_size=8, teachers="resnet34")
    data = {"model": {"name": "m"}, "optimizer": {"name": "adam"},
            "trainer": {k: v for k, v in vars(old).items() if k != "distill_loss"},
            "data": {"dataset": "cifar10"}, "hparams_set": "x", "seed": 0}
    assert RunConfig.from_json(data).trainer.distill_loss == "consecutive"
    with pytest.raises(BnnoError, match="^unknown distillation loss 'kl'; choose one of: "
                                        "consecutive, distribution"):
        check_set("binarynet", "bop", {"distill_loss": "kl"})


def test_the_distiller_trains_on_the_recipes_loss():
    from bnno.training.distill import Distiller

    def dense(activation=None, seed=0):
        tf.keras.utils.set_random_seed(seed)
        return tf.keras.Sequential([tf.keras.Input((4,)),
                                    tf.keras.layers.Dense(3, activation=activation)])

    student, teacher = dense("softmax"), dense(seed=1)
    x = np.random.default_rng(3).normal(size=(6, 4)).astype(np.float32)
    net = Distiller(student, [teacher], loss="distribution")
    net.compile(tf.keras.optimizers.legacy.SGD(0.0), "categorical_crossentropy")
    kernel, bias = student.layers[-1].kernel.numpy(), student.layers[-1].bias.numpy()
    loss = net.train_on_batch(x, np.eye(3)[[0, 1, 2, 0, 1, 2]], return_dict=True)["loss"]
    np.testing.assert_allclose(loss, official(x @ kernel + bias, teacher.predict(x, verbose=0)),
                               rtol=1e-5)
