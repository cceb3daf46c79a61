"""timm's EfficientNet-B0/B2/B4 and ConvNeXt-T checkpoints on bnno's models: equivalence with
timm 0.6.11's own models on fixtures (tests/fixtures, made by benchmarks/timm_fixtures.py)
in every file form timm's weights come in, the full-size layouts and parameter counts,
and mismatches."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from bnno.checkpoints import safetensors, timm
from bnno.errors import BnnoError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
MODELS = ("efficientnet_b0", "efficientnet_b2", "efficientnet_b4", "convnext_tiny")
# (model, file) of every fixture: timm's .pth and .safetensors forms, and Facebook's
# original ConvNeXt file (what timm 0.6.11 downloads for convnext_tiny).
FILES = [(m, f"{m}_narrow.{ext}") for m in MODELS for ext in ("pth", "safetensors")] + [
    ("convnext_tiny", "convnext_tiny_narrow_facebook.pth")]
# The hparams the narrow fixtures imply (benchmarks/timm_fixtures.py builds them).
NARROW = {"efficientnet_b0": {"width_multiplier": 0.05, "channel_divisor": 4},
          "efficientnet_b2": {"width_multiplier": 0.05, "channel_divisor": 4},
          "efficientnet_b4": {"width_multiplier": 0.05, "channel_divisor": 4},
          "convnext_tiny": {"width_multiplier": 0.042, "depths": "1-1-3-1"}}
# timm 0.6.11's parameter counts of the full-size models (1000 classes).
TIMM_PARAMETERS = {"efficientnet_b0": 5_288_548, "efficientnet_b2": 9_109_994,
                   "efficientnet_b4": 19_341_616, "convnext_tiny": 28_589_128}


@pytest.fixture(scope="module")
def narrow_nets():
    """One narrow Keras model per architecture, built once; each test fills it anew."""
    import tensorflow as tf

    from bnno import models

    nets = {}
    for model in MODELS:
        inputs = np.load(FIXTURES / "timm_inputs.npy")
        net = models.get(model)(inputs.shape[1:], 10, **NARROW[model])
        nets[model] = net, tf.keras.Model(net.input, net.get_layer("logits").output)
    yield nets
    tf.keras.backend.clear_session()


@pytest.mark.slow
@pytest.mark.parametrize("model, file", FILES)
def test_an_imported_checkpoint_computes_timms_logits(narrow_nets, model, file):
    state = timm.read(FIXTURES / file)
    mapping = timm.timm_weights(state, model)
    assert mapping.hparams == NARROW[model] and mapping.num_classes == 10
    assert mapping.info == {"key_names": "facebook" if "facebook" in file else "timm"}
    net, logits_of = narrow_nets[model]
    mapping.assign(net)
    reference = np.load(FIXTURES / f"{model}_narrow_logits.npy")
    # The fixture discriminates: timm's top-1 differs between its eight inputs.
    assert reference.shape == (8, 10) and len(set(reference.argmax(1).tolist())) >= 4
    inputs = np.load(FIXTURES / "timm_inputs.npy").astype(np.float32)
    logits = logits_of(inputs, training=False).numpy()
    assert np.abs(logits - reference).max() <= 1e-4 * np.abs(reference).max()
    np.testing.assert_array_equal(logits.argmax(1), reference.argmax(1))
    probabilities = net(inputs, training=False).numpy()
    np.testing.assert_allclose(probabilities.sum(1), 1.0, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS)
def test_both_forms_of_a_checkpoint_hold_the_same_tensors(model):
    from_pth = timm.read(FIXTURES / f"{model}_narrow.pth")
    from_safetensors = timm.read(FIXTURES / f"{model}_narrow.safetensors")
    assert list(from_pth) == list(from_safetensors) or sorted(from_pth) == sorted(
        from_safetensors)
    for key, value in from_pth.items():
        assert value.dtype == from_safetensors[key].dtype
        np.testing.assert_array_equal(value, from_safetensors[key])


def _timm_layouts() -> dict[str, dict[str, list[int]]]:
    with gzip.open(FIXTURES / "timm_layouts.json.gz", "rt", encoding="utf-8") as f:
        return json.load(f)


def _without_counters(layout: dict[str, list[int]]) -> dict[str, tuple[int, ...]]:
    return {k: tuple(s) for k, s in layout.items() if not k.endswith("num_batches_tracked")}


def test_timms_full_size_layouts_are_the_importers():
    layouts = _timm_layouts()
    assert sorted(layouts) == sorted([*MODELS, "convnext_tiny_facebook"])
    for model in MODELS:
        expected = _without_counters(layouts[model])
        assert timm.keys(timm.layout(model, **timm.DEFAULTS[model])) == expected
        state = {k: np.zeros(s, np.float32) for k, s in layouts[model].items()}
        assert timm.check(state, model) == {"num_classes": 1000, "channels": 3,
                                            **timm.DEFAULTS[model]}
    facebook = {k: np.zeros(s) for k, s in layouts["convnext_tiny_facebook"].items()}
    renamed = timm.from_facebook(facebook)
    assert {k: v.shape for k, v in renamed.items()} == _without_counters(
        layouts["convnext_tiny"])


# Seconds each: building a full-size model is the only way to check that bnno's full-size
# Keras layers take timm's weights, and that it has timm's parameters. EfficientNet-B2 is
# B0's and B4's builder between their multipliers; the test above checks its layout.
@pytest.mark.slow
@pytest.mark.parametrize("model", ["efficientnet_b0", "efficientnet_b4", "convnext_tiny"])
def test_timms_full_size_weights_fit_bnnos_full_size_model(model):
    import tensorflow as tf

    from bnno import models

    layout = _timm_layouts()[model]
    # Zero-stride views stand for the weights, and the graph only declares the
    # variables: no full-size model is allocated.
    state = {k: np.broadcast_to(np.float32(0), s) for k, s in layout.items()}
    mapping = timm.timm_weights(state, model)
    assert mapping.hparams == {} and mapping.num_classes == 1000
    with tf.Graph().as_default():
        net = models.get(model)((224, 224, 3), 1000)
        timm.fill(net, timm.layout(model, **timm.check(state, model)), state,
                  check_only=True)
        trainable = sum(int(np.prod(w.shape)) for w in net.trainable_weights)
    buffers = ("running_mean", "running_var", "num_batches_tracked")
    parameters = sum(int(np.prod(s)) for k, s in layout.items() if not k.endswith(buffers))
    assert trainable == parameters == TIMM_PARAMETERS[model]


def _state(model: str = "efficientnet_b2") -> dict[str, np.ndarray]:
    return timm.read(FIXTURES / f"{model}_narrow.safetensors")


@pytest.mark.slow
def test_a_missing_unexpected_or_mis_shaped_key_is_named_with_the_best_fit():
    state = _state()
    missing = {k: v for k, v in state.items() if k != "blocks.3.1.se.conv_expand.bias"}
    with pytest.raises(BnnoError, match=r"efficientnet_b2: key 'blocks\.3\.1\.se\.conv_expand"
                                        r"\.bias' is missing; it fits efficientnet_b2 best"):
        timm.check(missing, "efficientnet_b2")
    with pytest.raises(BnnoError, match=r"key 'blocks\.1\.extra' is unexpected"):
        timm.check({**state, "blocks.1.extra": np.zeros(3)}, "efficientnet_b2")
    bad = {**state, "blocks.2.0.bn3.running_var": np.zeros(5)}
    with pytest.raises(BnnoError, match=r"'blocks\.2\.0\.bn3\.running_var' has shape \(5,\), "
                                        r"efficientnet_b2 needs \(4,\)") as e:
        timm.check(bad, "efficientnet_b2")
    assert "\n" not in str(e.value)
    with pytest.raises(BnnoError, match="does not fit convnext_tiny: key 'stem.0.weight' is "
                                        "missing; it fits efficientnet_b[024] "):
        timm.check(state, "convnext_tiny")


def test_another_efficientnets_weights_are_refused_under_this_name():
    layouts = _timm_layouts()
    state = {k: np.zeros(s, np.float32) for k, s in layouts["efficientnet_b2"].items()}
    with pytest.raises(BnnoError, match="the checkpoint is timm's efficientnet_b2 "
                                        r"\(width 1\.1, depth 1\.2\); import it as "
                                        "efficientnet_b2"):
        timm.timm_weights(state, "efficientnet_b0")


def test_a_stem_for_other_than_three_channels_is_refused():
    state = {k: np.zeros(s, np.float32) for k, s in
             timm.keys(timm.efficientnet_layout(10, 0.25, 1.0, channels=1)).items()}
    with pytest.raises(BnnoError, match="stem takes 1 channels"):
        timm.timm_weights(state, "efficientnet_b0")


@pytest.mark.slow
def test_a_model_built_with_other_hparams_is_refused_before_any_weight_is_written():
    from bnno import models

    mapping = timm.timm_weights(_state("convnext_tiny"), "convnext_tiny")
    net = models.get("convnext_tiny")((32, 32, 3), 10, width_multiplier=0.042)
    before = [w.numpy().copy() for w in net.weights]
    with pytest.raises(BnnoError, match="does not have timm's layers .*; build it with the "
                                        "hparams the import found"):
        mapping.assign(net)
    assert all(np.array_equal(b, w.numpy()) for b, w in zip(before, net.weights, strict=True))


def test_read_unwraps_state_dict_and_model_entries_and_refuses_other_content(tmp_path):
    from bnno.checkpoints import pth

    facebook = pth.load(FIXTURES / "convnext_tiny_narrow_facebook.pth")
    assert list(facebook) == ["model"]
    assert timm.read(FIXTURES / "convnext_tiny_narrow_facebook.pth").keys() == facebook[
        "model"].keys()
    text = b'{"w": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]}}'
    path = tmp_path / "w.safetensors"
    path.write_bytes(len(text).to_bytes(8, "little") + text + bytes(4))
    assert safetensors.is_safetensors(path) and list(timm.read(path)) == ["w"]
    path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(BnnoError, match="is not a readable PyTorch checkpoint"):
        timm.read(path)


@pytest.mark.slow
@pytest.mark.parametrize("file", ["convnext_tiny_narrow.safetensors",
                                  "convnext_tiny_narrow_facebook.pth"])
def test_bnno_import_reads_safetensors_and_facebooks_files_by_content(file, tmp_path,
                                                                       monkeypatch):
    """``bnno import`` reads a .safetensors file without pickle (here under a .pth name:
    the reader is chosen by content) and Facebook's {"model": ...} file; the run gives
    timm's logits."""
    import pickle

    from bnno.checkpoints import files
    from bnno.config import stored
    from bnno.training.importing import import_checkpoint
    from bnno.training.loading import load_trained

    source = tmp_path / "weights.pth"
    source.write_bytes((FIXTURES / file).read_bytes())
    if file.endswith(".safetensors"):
        def no_pickle(*args, **kwargs):
            raise AssertionError("a safetensors file was unpickled")

        monkeypatch.setattr(pickle, "Unpickler", no_pickle)
        monkeypatch.setattr(pickle, "load", no_pickle)
        assert files.kind(source) == "safetensors"
    run = import_checkpoint("convnext_tiny", source, tmp_path / "run")
    config = stored.read(run)
    assert dict(config.model.hparams) == {**config.model.hparams, **NARROW["convnext_tiny"]}
    assert config.imported["key_names"] == ("facebook" if "facebook" in file else "timm")
    inputs = np.load(FIXTURES / "timm_inputs.npy").astype(np.float32)
    net, _ = load_trained(run, config, inputs.shape[1:], 10, flip_ratio=False)
    import tensorflow as tf

    logits = tf.keras.Model(net.input, net.get_layer("logits").output)(inputs).numpy()
    reference = np.load(FIXTURES / "convnext_tiny_narrow_logits.npy")
    assert np.abs(logits - reference).max() <= 1e-4 * np.abs(reference).max()
    tf.keras.backend.clear_session()
