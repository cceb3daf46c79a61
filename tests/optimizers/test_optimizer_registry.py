"""The optimizer registry: every optimizer builds, trains a step and declares its keys;
registering one module's optimizer makes it a valid ``optimizer`` choice."""

import larq as lq
import numpy as np
import pytest
import tensorflow as tf

from bnno import hparams, models, optimizers
from bnno.errors import BnnoError
from bnno.htypes import FLOAT, SCHEDULE
from bnno.training.build import compile_model

# The smallest hparams each registered optimizer trains with; a new optimizer adds its own.
MINIMAL = {
    "adam": {"learning_rate": 1e-2},
    "adamw": {"learning_rate": 1e-2, "weight_decay": 1e-2, "weight_decay_low": 1e-8},
    "bop": {"learning_rate": 1e-2, "threshold": 1e-6, "gamma": 1e-3},
    "bop2ndorder": {"learning_rate": 1e-2, "threshold": 1e-6, "gamma": 1e-3, "sigma": 1e-2},
    "cema": {"learning_rate": 1e-2, "alpha": 1e-2, "gamma": 1e-1},
}

X = np.array([[0.5, -1.0, 2.0, 0.1], [-0.3, 0.8, -1.5, 1.2]], dtype=np.float32)
Y = np.array([[1, 0, 0], [0, 0, 1]], dtype=np.float32)


def tiny_model(hp):
    """One binary QuantDense and one real Dense, set up for ``hp``'s optimizer."""
    tf.keras.utils.set_random_seed(0)
    x = tf.keras.Input((4,))
    h = lq.layers.QuantDense(3, name="binary", **optimizers.kernel_settings(hp))(x)
    y = tf.keras.layers.Dense(3, activation="softmax", name="real")(h)
    model = tf.keras.Model(x, y)
    if optimizers.latent_free(hp):
        optimizers.binarize_kernels(model)
    return model


def test_every_registered_optimizer_has_a_minimal_recipe():
    assert sorted(MINIMAL) == optimizers.names()


@pytest.mark.parametrize("name", sorted(MINIMAL))
def test_every_optimizer_builds_and_takes_one_step(name):
    latent_free = optimizers.get(name).latent_free
    quantizer = None if latent_free else "ste_sign"
    hp = {"optimizer": name, "kernel_quantizer": quantizer, **MINIMAL[name]}
    model = tiny_model(hp)
    real_before = model.get_layer("real").kernel.numpy()
    compile_model(model, hp, steps_per_epoch=1)
    model.train_on_batch(X, Y)
    assert optimizers.step_count(model.optimizer) == 1
    assert not np.allclose(model.get_layer("real").kernel.numpy(), real_before)
    if latent_free:
        assert set(np.unique(model.get_layer("binary").kernel.numpy())) <= {-1.0, 1.0}


@pytest.mark.parametrize("name", sorted(MINIMAL))
def test_every_key_is_a_trainer_key_that_checks_its_values(name):
    entry = optimizers.get(name)
    types = models.hparam_types("binarynet")
    for key, htype in entry.keys.items():
        assert types[key] is htype
        good = MINIMAL[name].get(key, entry.defaults.get(key, 0.5))
        assert htype.check(key, htype.parse(str(good))) == good
        with pytest.raises(BnnoError, match=key):
            htype.check(key, htype.parse("-1"))
    assert set(entry.defaults) <= set(hparams.TRAINER_DEFAULTS)


def test_registering_one_optimizer_makes_it_a_choice_that_trains():
    types = models.hparam_types("binarynet")
    with pytest.raises(BnnoError, match="must be one of: adam, adamw, bop, bop2ndorder"):
        hparams.resolve("binarynet", "default", "optimizer=plain_sgd", types)

    # All an optimizer module holds: one register call on its builder.
    @optimizers.register("plain_sgd", keys={"learning_rate": SCHEDULE, "momentum": FLOAT},
                         defaults={"momentum": 0.0})
    def _sgd(hp, schedule):
        return tf.keras.optimizers.legacy.SGD(schedule("learning_rate"),
                                              momentum=hp.get("momentum", 0.0))

    try:
        types = models.hparam_types("binarynet")
        hp = hparams.resolve("binarynet", "default",
                             "optimizer=plain_sgd,learning_rate=0.1,momentum=0", types)
        assert (hp["optimizer"], hp["learning_rate"], hp["momentum"]) == ("plain_sgd", 0.1, 0)
        with pytest.raises(BnnoError, match="momentum"):
            hparams.resolve("binarynet", "default", "optimizer=plain_sgd,momentum=-1", types)

        hp = {"optimizer": "plain_sgd", "learning_rate": 0.1, "kernel_quantizer": "ste_sign"}
        model = tiny_model(hp)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.keras.losses.categorical_crossentropy(Y, model(X)))
        grads = [g.numpy() for g in tape.gradient(loss, model.trainable_variables)]
        before = [v.numpy() for v in model.trainable_variables]
        compile_model(model, hp, steps_per_epoch=1)
        model.train_on_batch(X, Y)
        for var, w, g in zip(model.trainable_variables, before, grads, strict=True):
            np.testing.assert_allclose(var.numpy(), w - 0.1 * g, rtol=1e-5, atol=1e-6)
    finally:
        optimizers.unregister("plain_sgd")
    assert "momentum" not in hparams.TRAINER_KEYS
    assert "plain_sgd" not in optimizers.names()
