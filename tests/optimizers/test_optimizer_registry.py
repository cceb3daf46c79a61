"""The optimizer registry: every registered optimizer builds and trains a step with the
options of a recipe that names it, its declarations are checked when it registers, and
one module's ``register`` call makes it a choice that trains. An optimizer registered
later is covered without a line here."""

import functools

import larq as lq
import numpy as np
import pytest
import tensorflow as tf
from conftest import resolved

from bnno import hparams, models, optimizers, plugins
from bnno.config import OptimizerConfig
from bnno.config.kernels import kernel_settings
from bnno.errors import BnnoError
from bnno.htypes import BOOL, FLOAT, SCHEDULE
from bnno.training.build import compile_model

plugins.load()

X = np.array([[0.5, -1.0, 2.0, 0.1], [-0.3, 0.8, -1.5, 1.2]], dtype=np.float32)
Y = np.array([[1, 0, 0], [0, 0, 1]], dtype=np.float32)


@functools.cache
def recipe_options(name: str) -> dict:
    """The options of the first recipe set (of any model) that trains with ``name``."""
    for model in models.names():
        if not hparams.has_file(model):
            continue
        for set_name in hparams.set_names(model):
            values = resolved(model, set_name)
            if values["optimizer"] == name:
                keys = optimizers.get(name).options
                return {k: v for k, v in values.items() if k in keys}
    return {}


def tiny_model(optimizer: str):
    """One binary QuantDense and one real Dense, set up for ``optimizer``."""
    tf.keras.utils.set_random_seed(0)
    latent_free = optimizers.latent_free(optimizer)
    x = tf.keras.Input((4,))
    settings = kernel_settings({"kernel_quantizer": None if latent_free else "ste_sign"},
                               optimizer)
    h = lq.layers.QuantDense(3, name="binary", **settings)(x)
    y = tf.keras.layers.Dense(3, activation="softmax", name="real")(h)
    model = tf.keras.Model(x, y)
    if latent_free:
        optimizers.binarize_kernels(model)
    return model


@pytest.mark.slow
@pytest.mark.parametrize("name", optimizers.names())
def test_every_optimizer_trains_a_step_with_a_recipe_that_names_it(name):
    options = recipe_options(name)
    assert options, f"no hparam set trains with optimizer {name}: add one"
    model = tiny_model(name)
    real_before = model.get_layer("real").kernel.numpy()
    compile_model(model, OptimizerConfig(name, options), 1, 1)
    model.train_on_batch(X, Y)
    assert optimizers.step_count(model.optimizer) == 1
    assert not np.allclose(model.get_layer("real").kernel.numpy(), real_before)
    if optimizers.latent_free(name):
        assert set(np.unique(model.get_layer("binary").kernel.numpy())) <= {-1.0, 1.0}


@pytest.mark.slow
@pytest.mark.parametrize("name", optimizers.names())
def test_every_option_checks_and_parses_its_values(name):
    entry = optimizers.get(name)
    for key, htype in entry.options.items():
        value = {**entry.defaults, **recipe_options(name)}.get(key)
        if value is not None and not isinstance(value, dict):
            assert htype.check(key, htype.parse(str(value).lower())) == value
        assert entry.defaults.get(key, "no default") != "no default" or key in recipe_options(
            name), f"{name}'s option {key} has no default and no recipe gives it"


@pytest.fixture
def doomed():
    """Names registered by a test, removed again whatever happens."""
    names = []
    yield names
    for name in names:
        if name in optimizers.names():
            optimizers.unregister(name)


@pytest.mark.slow
@pytest.mark.parametrize("kwargs, message", [
    ({"options": {"learning_rate": 0.1}}, "option 'learning_rate' needs a bnno.htypes type"),
    ({"options": {"learning_rate": SCHEDULE}, "defaults": {"momentum": 0.9}},
     "has a default for 'momentum', which is none of its options"),
    ({"options": {"momentum": FLOAT}, "defaults": {"momentum": -1}},
     "'momentum' expects a non-negative number"),
    ({"options": {"learning_rate": SCHEDULE}, "logged": ("gamma",)},
     "logs 'gamma', which is none of its options"),
])
def test_declarations_are_checked_when_an_optimizer_registers(doomed, kwargs, message):
    doomed.append("test_only_bad")
    with pytest.raises(BnnoError, match=message):
        optimizers.register("test_only_bad", **kwargs)(lambda options, schedule: None)
    assert "test_only_bad" not in optimizers.names()
    with pytest.raises(BnnoError, match=r"must take \(options, schedule\)"):
        optimizers.register("test_only_bad")(lambda options: None)
    with pytest.raises(BnnoError, match="lower_case"):
        optimizers.register("Test Only")(lambda options, schedule: None)


def test_a_builder_must_build_a_legacy_keras_optimizer(doomed):
    doomed.append("test_only_new_keras")
    optimizers.register("test_only_new_keras", options={"learning_rate": SCHEDULE})(
        lambda options, schedule: object())
    with pytest.raises(BnnoError, match="legacy Keras optimizers"):
        optimizers.build("test_only_new_keras", {"learning_rate": 0.1}, 1, 1)


@pytest.mark.slow
def test_registering_one_optimizer_makes_it_a_choice_that_trains(doomed):
    with pytest.raises(BnnoError, match="'optimizer' must be one of: adam"):
        resolved("binarynet", "default", "optimizer=test_only_sgd")

    # All an optimizer module holds: one register call on its builder. Its options are its
    # own: a momentum of another type than another optimizer's is no clash.
    doomed.append("test_only_sgd")

    @optimizers.register("test_only_sgd", options={"learning_rate": SCHEDULE,
                                                   "momentum": FLOAT, "nesterov": BOOL},
                         defaults={"momentum": 0.0, "nesterov": False})
    def _sgd(options, schedule):
        return tf.keras.optimizers.legacy.SGD(schedule("learning_rate"),
                                              momentum=options["momentum"],
                                              nesterov=options["nesterov"])

    values = resolved("binarynet", "default",
                      "optimizer=test_only_sgd,learning_rate=0.1,momentum=0")
    assert (values["optimizer"], values["learning_rate"], values["momentum"]) == (
        "test_only_sgd", 0.1, 0)
    with pytest.raises(BnnoError, match="momentum"):
        resolved("binarynet", "default", "optimizer=test_only_sgd,momentum=-1")
    # Switched back, its options are not the set's optimizer's.
    with pytest.raises(BnnoError, match="'momentum' is an option of optimizer .*test_only_sgd"):
        resolved("binarynet", "default", "momentum=0.9")

    model = tiny_model("test_only_sgd")
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.keras.losses.categorical_crossentropy(Y, model(X)))
    grads = [g.numpy() for g in tape.gradient(loss, model.trainable_variables)]
    before = [v.numpy() for v in model.trainable_variables]
    compile_model(model, OptimizerConfig("test_only_sgd", {"learning_rate": 0.1}), 1, 1)
    model.train_on_batch(X, Y)
    for var, w, g in zip(model.trainable_variables, before, grads, strict=True):
        np.testing.assert_allclose(var.numpy(), w - 0.1 * g, rtol=1e-5, atol=1e-6)
    optimizers.unregister("test_only_sgd")
    assert "test_only_sgd" not in optimizers.names()
