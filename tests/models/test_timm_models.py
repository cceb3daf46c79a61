"""The models that equal timm's (efficientnet_b0/b2/b4, convnext_tiny): their structure
against timm 0.6.11's (tests/checkpoints/test_timm_import.py checks their logits and full-size
layouts against timm's own models), and their training-only parts as timm's: drop path on
the residual branches at timm's per-block rates, dropout before the classifier, neither
in inference."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from bnno import models
from bnno.errors import BnnoError
from bnno.models import efficientnet
from bnno.models.timm_layers import DropPath


@pytest.fixture(autouse=True)
def _free_models():
    yield
    tf.keras.backend.clear_session()


# timm 0.6.11: blocks per stage, stem, stage and head widths of the full-size models.
TIMM_STRUCTURE = {
    "efficientnet_b0": ([1, 2, 2, 3, 3, 4, 1], 32, [16, 24, 40, 80, 112, 192, 320], 1280),
    "efficientnet_b2": ([2, 3, 3, 4, 4, 5, 2], 32, [16, 24, 48, 88, 120, 208, 352], 1408),
    "efficientnet_b4": ([2, 4, 4, 6, 6, 8, 2], 48, [24, 32, 56, 112, 160, 272, 448], 1792),
}


@pytest.mark.parametrize("model", sorted(TIMM_STRUCTURE))
def test_efficientnet_stages_and_widths_are_timms(model):
    repeats, stem, widths, head = TIMM_STRUCTURE[model]
    found_stem, blocks, found_head = efficientnet.architecture(*efficientnet.VARIANTS[model])
    assert efficientnet.repeats(efficientnet.VARIANTS[model][1]) == repeats
    assert (found_stem, found_head) == (stem, head)
    last = [[b for b in blocks if b.name.startswith(f"blocks.{s}.")][-1] for s in range(7)]
    assert [b.out for b in last] == widths
    # timm's skips: stride 1 and same width; the first stage's second block (B2, B4) too.
    assert [b.name for b in blocks if b.skip][:1] == (
        ["blocks.0.1"] if repeats[0] > 1 else ["blocks.1.1"])


@pytest.mark.slow
def test_any_input_size_builds_and_convnext_refuses_what_timm_cannot_run():
    net = models.get("efficientnet_b0")((33, 47, 3), 7, width_multiplier=0.1)
    assert net.output_shape == (None, 7)
    assert models.get("convnext_tiny")((32, 45, 1), 3, width_multiplier=0.05,
                                       depths="1-1-1-1").output_shape == (None, 3)
    with pytest.raises(BnnoError, match="at least 32×32 .*; got 31×64") as error:
        models.get("convnext_tiny")((31, 64, 3), 10)
    assert "\n" not in str(error.value)
    with pytest.raises(BnnoError, match="depths must be four positive block counts"):
        models.get("convnext_tiny")((32, 32, 3), 10, depths="3-3-0-3")


def test_drop_path_drops_whole_samples_and_rescales_the_rest():
    x = tf.ones((2000, 2, 2, 3))
    y = DropPath(0.3)(x, training=True).numpy()
    per_sample = y.reshape(2000, -1)
    assert all(len(set(row.tolist())) == 1 for row in per_sample)  # whole samples
    kept = per_sample[:, 0] != 0
    np.testing.assert_allclose(per_sample[kept, 0], 1 / 0.7, rtol=1e-6)
    assert abs(kept.mean() - 0.7) < 0.05
    np.testing.assert_array_equal(DropPath(0.3)(x, training=False), x)


@pytest.mark.slow
def test_drop_rates_are_timms_per_block_rates_and_change_nothing_in_inference():
    kwargs = dict(width_multiplier=0.1, depth_multiplier=0.5)
    plain = models.get("efficientnet_b2")((32, 32, 3), 10, **kwargs)
    dropping = models.get("efficientnet_b2")((32, 32, 3), 10, drop_rate=0.3,
                                             drop_path_rate=0.2, **kwargs)
    _, blocks, _ = efficientnet.architecture(0.1, 0.5)
    rates = {layer.name: layer.rate for layer in dropping.layers if isinstance(layer, DropPath)}
    # timm: block i of n gets drop_path_rate · i / n, on blocks with a skip only.
    assert rates == {f"{b.name}.drop_path": pytest.approx(0.2 * i / len(blocks))
                     for i, b in enumerate(blocks) if b.skip and i}
    assert dropping.get_layer("drop").rate == 0.3
    dropping.set_weights(plain.get_weights())
    x = np.random.default_rng(0).normal(size=(4, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(dropping(x, training=False), plain(x, training=False),
                               rtol=1e-6, atol=1e-7)
    convnext = models.get("convnext_tiny")((32, 32, 3), 10, width_multiplier=0.05,
                                           depths="2-1-1-1", drop_path_rate=0.4)
    rates = [layer.rate for layer in convnext.layers if isinstance(layer, DropPath)]
    assert rates == pytest.approx([0.1, 0.2, 0.3, 0.4])  # linspace(0, 0.4, 5), 0 omitted
