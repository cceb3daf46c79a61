"""Every registered model, driven by the registry: it builds at a tiny width for every
dataset's shape, takes a training step under every optimizer its sets name, and every
one of its sets resolves and plans. A model registered later is covered without a line
here (its width hparams are found by name)."""

import bnno  # noqa: F401

# isort: split

import inspect
import os

import numpy as np
import pytest
import tensorflow as tf
from larq.optimizers import _var_key

from bnno import data, hparams, models, optimizers, plugins
from bnno.config import ModelConfig, plan
from bnno.config.plan import check_set
from bnno.errors import BnnoError
from bnno.training.build import build_model, compile_model

plugins.load()

# Width hparams of the builders and the values that make a model tiny.
TINY_WIDTHS = {"width_multiplier": 0.05, "filters": 4, "dense_units": 8, "units": 16,
               "hidden_layers": 2}

# BNext halves its input four times and refuses a side that would be odd on the way
# (its official code's average pools would silently drop a row): 28 × 28 is refused.
REFUSED = {(m, (28, 28, 1)) for m in ("bnext_t", "bnext_s", "bnext_m", "bnext_l", "bnext_18")}
# ConvNeXt's stem divides the side by 4 and three unpadded 2×2 stride-2 convolutions halve
# it: timm's model fails under 32 × 32, and bnno's refuses it.
REFUSED |= {("convnext_tiny", (28, 28, 1))}

# The training steps run on CIFAR-sized images; every other dataset shape gets a build.
STEP_SHAPE = (32, 32, 3)

# BNext-S, -M and -L are BNext-T's builder (bnno.models.bnext.bnext) at other widths and
# depths, whose sets name BNext-T's optimizers: their steps would repeat BNext-T's at
# several times its cost.
# Their builds (below) and their full-size layouts (tests/models/test_bnext.py) are tested.
SAME_AS_BNEXT_T = ("bnext_s", "bnext_m", "bnext_l")


# Si-BNN's VGG at 224×224 has 440 M parameters (a 100352×4096 dense layer) and no width
# hparam; built eagerly it takes 6 GB. It is built in a graph of its own, where its
# variables are declared but never given values (0.5 GB), and the graph is dropped after.
IN_GRAPH = {("sibnn_vgg", (224, 224, 3))}


def build_in_graph(model: str, shape: tuple, classes: int) -> tuple:
    with tf.Graph().as_default():
        net = models.get(model)(shape, classes)
        return net.input_shape, net.output_shape


def dataset_shapes() -> dict[tuple, int]:
    """Every registered dataset's input shape, with its number of classes."""
    shapes = {}
    for name in sorted(data.DATASETS):
        info = data.describe(name, data_dir=os.devnull)  # shapes need no prepared data
        shapes.setdefault(info.input_shape, info.num_classes)
    return shapes


def tiny(model: str) -> dict:
    params = inspect.signature(models.get(model)).parameters
    return {k: v for k, v in TINY_WIDTHS.items() if k in params}


def tiny_model(config: ModelConfig) -> ModelConfig:
    """``config`` at the tiny widths of its model."""
    return ModelConfig(config.name, {**config.hparams, **tiny(config.name)})


def sets_by_optimizer(model: str) -> dict[str, str]:
    """One set for every optimizer the model's sets name: optimizer -> set."""
    found = {}
    for name in hparams.set_names(model):
        found.setdefault(check_set(model, name).optimizer.name, name)
    return found


@pytest.mark.slow
def test_the_shapes_cover_every_dataset():
    assert set(dataset_shapes()) == {(28, 28, 1), STEP_SHAPE, (224, 224, 3)}


@pytest.mark.slow
@pytest.mark.parametrize("shape", [s for s in dataset_shapes() if s != STEP_SHAPE],
                         ids=lambda shape: "x".join(map(str, shape)))
@pytest.mark.parametrize("model", models.names())
def test_every_model_builds_for_every_dataset_shape(model, shape):
    classes = dataset_shapes()[shape]
    build = models.get(model)
    if (model, shape) in REFUSED:
        with pytest.raises(BnnoError, match="28×28") as error:
            build(shape, classes, **tiny(model))
        assert "\n" not in str(error.value)
        return
    if (model, shape) in IN_GRAPH:
        assert build_in_graph(model, shape, classes) == ((None, *shape), (None, classes))
        return
    net = build(shape, classes, **tiny(model))
    assert net.input_shape == (None, *shape)
    assert net.output_shape == (None, classes)


@pytest.mark.slow
@pytest.mark.parametrize("model, optimizer, set_name", [
    (model, optimizer, set_name) for model in models.names() if model not in SAME_AS_BNEXT_T
    for optimizer, set_name in sets_by_optimizer(model).items()])
def test_every_model_takes_a_step_under_each_optimizer_of_its_sets(model, optimizer, set_name):
    tf.keras.utils.set_random_seed(0)
    checked = check_set(model, set_name)
    net = build_model(tiny_model(checked.model), optimizer, STEP_SHAPE, 10)
    assert net.output_shape == (None, 10)
    compile_model(net, checked.optimizer, 1, 1)
    take_step(net, optimizer)


def take_step(net, optimizer: str) -> list:
    """One eager training step on random images; the trainable weights before it."""
    net.run_eagerly = True  # one step: tracing the graph would cost more than running it
    before = [w.numpy().copy() for w in net.trainable_weights]
    loss = net.train_on_batch(STEP_X, STEP_Y, return_dict=True)["loss"]
    assert np.isfinite(loss)
    moved = [not np.array_equal(b, w.numpy()) for b, w in zip(before, net.trainable_weights,
                                                                 strict=True)]
    assert sum(moved) > len(moved) // 2, f"{optimizer} moved {sum(moved)} of {len(moved)}"
    return before


STEP_X = np.random.default_rng(0).normal(size=(4, *STEP_SHAPE)).astype("float32")
STEP_Y = tf.keras.utils.to_categorical([0, 1, 2, 3], 10)


def latent_set(model: str) -> str:
    """The model's first set that trains latent weights."""
    return next(name for name in hparams.set_names(model)
                if not optimizers.latent_free(check_set(model, name).optimizer.name))


# Each binary model (one that takes a kernel quantizer) switched from a latent-weight set
# to one latent-free optimizer (the two differ in the binary kernels' update only, which
# tests/optimizers covers), alternating.
SWITCHED = [(model, ("bop", "bop2ndorder")[i % 2]) for i, model in enumerate(
    m for m in models.names() if m not in SAME_AS_BNEXT_T
    and models.get_entry(m).takes("kernel_quantizer"))]


@pytest.mark.slow
@pytest.mark.parametrize("model, optimizer", SWITCHED)
def test_every_model_trains_latent_free_when_hparams_switch_the_optimizer(model, optimizer):
    set_name = latent_set(model)
    # What `--hparams optimizer=...` gives on the command line.
    switched = check_set(model, set_name, {"optimizer": optimizer, "threshold": "1e-6",
                                           "gamma": "1e-3"})
    assert len(switched.notes) == 1 and "kernel_quantizer" in switched.notes[0]
    tf.keras.utils.set_random_seed(0)
    net = build_model(tiny_model(switched.model), optimizer, STEP_SHAPE, 10)
    scaled = switched.model.hparams["kernel_quantizer"] == "channel_scale"
    if scaled:
        # The latent-weight model from the same draw computes the same function at the start.
        latent = check_set(model, set_name)
        tf.keras.utils.set_random_seed(0)
        reference = build_model(tiny_model(latent.model), latent.optimizer.name, STEP_SHAPE, 10)
        np.testing.assert_allclose(net(STEP_X, training=False),
                                   reference(STEP_X, training=False), atol=1e-5)
    compile_model(net, switched.optimizer, 1, 1)
    kernels = optimizers.binary_kernels(net)
    before = dict(zip([w.ref() for w in net.trainable_weights], take_step(net, optimizer),
                      strict=True))
    # The CaseOptimizer gives the ±1 kernels, and nothing else, to the binary optimizer.
    mapping = net.optimizer.var_opt_mapping
    assert kernels and {w.ref() for w in kernels} == {
        v.ref() for v in net.trainable_weights if mapping[_var_key(v)] == 0}
    for kernel in kernels:
        assert set(np.unique(kernel.numpy())) <= {-1.0, 1.0}
    scales = [w for layer in net.submodules
              for w in getattr(getattr(layer, "kernel_quantizer", None), "weights", [])
              if w.trainable]
    assert bool(scales) == scaled
    for scale in scales:  # trained by Adam, not by Bop
        assert not np.array_equal(before[scale.ref()], scale.numpy())


@pytest.mark.slow
@pytest.mark.parametrize("model", models.names())
def test_every_set_of_every_model_resolves_and_plans(model):
    for set_name in hparams.set_names(model):
        checked = check_set(model, set_name)
        assert set(checked.model.hparams) == set(models.get_entry(model).hparams)
        fn = checked.recipe.sections["data"].get("preprocess_fn", "default")
        dataset = next(d for d in sorted(data.DATASETS) if fn in data.preprocess_fns(d))
        config = plan(model, dataset, set_name, seed=0)
        assert config.model == checked.model and config.optimizer == checked.optimizer
