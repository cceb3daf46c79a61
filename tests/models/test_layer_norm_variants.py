"""``normalization="layer"``: the networks of the Bop2ndOrder code (CuauSuarez/Bop2ndOrder
``bnn_optimization/models/``), which put Keras' default layer norm wherever the Bop paper's
networks (bnno's defaults, and the README's ``*_batch`` names) have a batch norm."""

import bnno  # noqa: F401

# isort: split

import pytest
import tensorflow as tf

from bnno import models

TINY = {"binarynet": {"filters": 4, "dense_units": 8}, "birealnet": {"filters": 4},
        "xnornet": {}}


def layer_kinds(net):
    return [type(layer).__name__ for layer in net.layers]


@pytest.fixture(autouse=True)
def _free_models():
    yield
    tf.keras.backend.clear_session()


@pytest.mark.slow
@pytest.mark.parametrize("model", sorted(TINY))
def test_layer_norm_takes_the_place_of_every_batch_norm(model):
    build = models.get(model)
    batch = build((32, 32, 3), 10, **TINY[model])
    layer = build((32, 32, 3), 10, normalization="layer", **TINY[model])
    expected = ["LayerNormalization" if kind == "BatchNormalization" else kind
                for kind in layer_kinds(batch)]
    assert layer_kinds(layer) == expected
    assert "BatchNormalization" in layer_kinds(batch)
    norms = [lay for lay in layer.layers if isinstance(lay, tf.keras.layers.LayerNormalization)]
    # Keras' defaults, as the official code leaves them: the last axis, epsilon 1e-3,
    # with scale and offset.
    assert all(list(n.axis) == [len(n.input_shape) - 1] and n.epsilon == 1e-3 and n.scale
               and n.center for n in norms)
    for a, b in zip(batch.layers, layer.layers, strict=True):
        if not isinstance(a, tf.keras.layers.BatchNormalization):
            assert a.output_shape == b.output_shape


@pytest.mark.slow
@pytest.mark.parametrize("alias", ["binarynet_batch", "xnornet_batch", "birealnet_batch"])
def test_batch_aliases_are_the_models_with_batch_norm(alias):
    model = alias.removesuffix("_batch")
    assert models.canonical(alias) == model
    assert models.fixed(alias) == {"normalization": "batch"}
    assert models.get(alias) is models.get(model)
