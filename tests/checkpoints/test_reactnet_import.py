"""Official ReActNet checkpoints and torchvision's ResNet-34 as bnno models: equivalence
with the official PyTorch models on fixtures (tests/fixtures, made by
benchmarks/reactnet_fixtures.py), both forms of the binary weights, the full-size
layouts, and checkpoints of the wrong step, width or model refused in one line."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from bnno.checkpoints import pth, reactnet, torchvision_resnet
from bnno.checkpoints.named_layers import assign, keys
from bnno.checkpoints.registry import state_dict
from bnno.config import stored
from bnno.errors import BnnoError
from bnno.training.importing import import_checkpoint

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
NARROW = {"width_multiplier": 0.0625}


def inputs() -> np.ndarray:
    return np.load(FIXTURES / "reactnet_inputs.npy")


def logits_of(net) -> np.ndarray:
    import tensorflow as tf

    logits = tf.keras.Model(net.input, net.get_layer("logits").output)
    return logits(inputs(), training=False).numpy()


def assert_official(logits: np.ndarray, reference: np.ndarray) -> None:
    # The fixture discriminates: the official top-1 differs between its eight inputs.
    assert len(set(reference.argmax(1).tolist())) >= 4
    assert np.abs(logits - reference).max() <= 1e-4 * np.abs(reference).max()
    np.testing.assert_array_equal(logits.argmax(1), reference.argmax(1))


def fixture_state(model: str) -> dict[str, np.ndarray]:
    return state_dict(pth.load(FIXTURES / f"{model}_narrow.pth.tar"))


def imported(model: str, state: dict[str, np.ndarray]):
    from bnno import models

    mapping = reactnet.reactnet(state, model)
    net = models.get(model)((32, 32, 3), mapping.num_classes, **mapping.hparams)
    mapping.assign(net)
    return net, mapping


@pytest.mark.slow
@pytest.mark.parametrize("model, form", [("reactnet_a", "(N, 1)"),
                                         ("reactnet_resnet18", "4-D")])
def test_an_imported_checkpoint_computes_the_official_logits(tmp_path, model, form):
    from bnno.training.loading import load_trained

    path = import_checkpoint(model, FIXTURES / f"{model}_narrow.pth.tar", tmp_path / "run")
    config = stored.read(path)
    assert config.data.dataset == "cifar10"
    assert config.model.hparams["width_multiplier"] == 0.0625
    assert config.imported == {"checkpoint": f"{model}_narrow.pth.tar", "epoch": 3,
                               "best_top1_acc": 41.5, "step": 2, "binary_weights": form}
    net, _ = load_trained(path, config, (32, 32, 3), 10)
    assert_official(logits_of(net), np.load(FIXTURES / f"{model}_narrow_logits.npy"))


def _flat(state: dict, model: str) -> dict:
    """The binary weights as ReActNet-A's HardBinaryConv stores them: ``weights`` (N, 1)."""
    out = dict(state)
    for key in reactnet.binary_keys(reactnet.layout(model, 10, 0.0625, stem=3)):
        out[key + "s"] = out.pop(key).reshape(-1, 1)
    return out


@pytest.mark.slow
def test_both_forms_of_the_binary_weights_compute_the_same():
    # ReActNet-A's (N, 1) latent weights as 4-D ±α kernels, ReAct-ResNet-18's ±1 kernels
    # as (N, 1): the same logits.
    state = fixture_state("reactnet_a")
    modules = reactnet.layout("reactnet_a", 10, 0.0625)
    four_d = dict(state)
    for key in reactnet.binary_keys(modules):
        w = four_d.pop(key + "s").reshape(keys(modules)[key])
        four_d[key] = np.abs(w).mean(axis=(1, 2, 3), keepdims=True) * np.sign(w)
    net, mapping = imported("reactnet_a", four_d)
    assert mapping.info["binary_weights"] == "4-D"
    assert_official(logits_of(net), np.load(FIXTURES / "reactnet_a_narrow_logits.npy"))
    net, mapping = imported("reactnet_resnet18", _flat(fixture_state("reactnet_resnet18"),
                                                       "reactnet_resnet18"))
    assert mapping.info["binary_weights"] == "(N, 1)"
    assert_official(logits_of(net), np.load(FIXTURES / "reactnet_resnet18_narrow_logits.npy"))


def official_layouts() -> dict[str, dict[str, tuple]]:
    with gzip.open(FIXTURES / "reactnet_layouts.json.gz", "rt", encoding="utf-8") as f:
        return {m: {k: tuple(s) for k, s in layout.items()} for m, layout in json.load(f).items()}


def test_the_official_full_size_layouts_are_the_importers():
    official = official_layouts()
    a = reactnet.layout("reactnet_a")
    assert keys(a) == official["reactnet_a_step1"]
    flat = {(k + "s" if k in reactnet.binary_keys(a) else k): ((int(np.prod(s)), 1)
            if k in reactnet.binary_keys(a) else s) for k, s in keys(a).items()}
    assert flat == official["reactnet_a_step2"]
    r18 = keys(reactnet.layout("reactnet_resnet18"))
    assert r18 == official["reactnet_resnet18_step1"] == official["reactnet_resnet18_step2"]
    assert keys(torchvision_resnet.layout()) == official["resnet34"]


# About 5 s each: the only way to check that bnno's full-size layers take the official
# full-size weights (graph mode: the variables are declared, never allocated).
@pytest.mark.slow
@pytest.mark.parametrize("model", reactnet.MODELS)
def test_the_official_full_size_weights_fit_bnnos_full_size_model(model):
    import tensorflow as tf

    from bnno import models

    layout = reactnet.layout(model)
    state = {k: np.broadcast_to(np.float32(0), s) for k, s in keys(layout).items()}
    with tf.Graph().as_default():
        assign(models.get(model)((224, 224, 3), 1000), layout, state, check_only=True)


def one_line(error) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def test_a_step_one_checkpoint_is_refused_in_one_line():
    # Step 1 stores real-valued 4-D kernels under the step-2 names (the official layouts
    # above): the fixture's latent weights in that form.
    state = fixture_state("reactnet_a")
    modules = reactnet.layout("reactnet_a", 10, 0.0625)
    step1 = dict(state)
    for key in reactnet.binary_keys(modules):
        step1[key] = step1.pop(key + "s").reshape(keys(modules)[key])
    with pytest.raises(BnnoError) as error:
        reactnet.reactnet(step1, "reactnet_a")
    assert one_line(error).startswith("this is a step-1 checkpoint of reactnet_a (binary "
                                      "activations, real weights): its binary convolutions "
                                      "hold real-valued 4-D kernels ('feature.1.binary_3x3")


def test_a_checkpoint_of_another_width_or_model_is_refused_in_one_line():
    state = fixture_state("reactnet_a")
    with pytest.raises(BnnoError) as error:
        reactnet.reactnet(state, "reactnet_resnet18")
    assert one_line(error) == ("the checkpoint does not fit reactnet_resnet18: key "
                               "'conv1.weight' is missing; it fits reactnet_a (all keys and "
                               "shapes)")
    # One stage of another width than the stem's (0.0625 · 32 = 2 channels) implies.
    wide = {**state, "feature.5.bn1.weight": np.ones(12, np.float32)}
    with pytest.raises(BnnoError) as error:
        reactnet.reactnet(wide, "reactnet_a")
    assert "'feature.5.bn1.weight' has shape (12,), reactnet_a needs (16,); it fits " \
           "reactnet_a best" in one_line(error)
    flat = {**state, "feature.2.binary_3x3.weights": np.ones((10, 1), np.float32)}
    with pytest.raises(BnnoError) as error:
        reactnet.reactnet(flat, "reactnet_a")
    assert "key 'feature.2.binary_3x3.weights' has shape (10, 1), reactnet_a needs (144, 1) " \
           "or (4, 4, 3, 3)" in one_line(error)


def test_a_wrong_model_on_the_command_line_writes_nothing(tmp_path, cli):
    out = tmp_path / "run"
    code, _, err = cli("import", "reactnet_a", str(FIXTURES / "reactnet_resnet18_narrow.pth.tar"),
                       "--output-dir", str(out))
    assert code == 2 and len(err.strip().splitlines()) == 1 and not out.exists()
    assert "does not fit reactnet_a" in err and "it fits reactnet_resnet18" in err


# The ResNet-34 fixture stores no weights (87 MB): they are drawn again here exactly as
# benchmarks/reactnet_fixtures.py drew them (``seeded_weights``, the same function), and
# the stored checksum proves it.
def seeded_weights(shapes: dict[str, tuple[int, ...]], seed: int = 34) -> dict:
    rng = np.random.RandomState(seed)
    out = {}
    for key in sorted(shapes):
        shape = tuple(shapes[key])
        if key.endswith(("running_mean", "running_var", "num_batches_tracked")) or (
                key == "fc.bias"):
            continue
        if len(shape) > 1:
            scale = np.sqrt(2.0 / np.prod(shape[1:])) * (3.0 if key == "fc.weight" else 1.0)
            out[key] = (rng.standard_normal(shape) * scale).astype(np.float32)
        elif key.endswith(".weight"):
            out[key] = rng.uniform(0.5, 1.5, shape).astype(np.float32)
        else:
            out[key] = (0.2 * rng.standard_normal(shape)).astype(np.float32)
    return out


def resnet34_state() -> dict[str, np.ndarray]:
    shapes = keys(torchvision_resnet.layout())
    drawn = seeded_weights(shapes)
    stored = dict(np.load(FIXTURES / "resnet34_bn.npz"))
    checksum = sum(np.abs(v).astype(np.float64).sum() for v in drawn.values())
    assert checksum == pytest.approx(float(stored.pop("checksum")), rel=1e-12)
    tracked = {k: np.array(1234) for k in shapes if k.endswith("num_batches_tracked")}
    return {**drawn, **stored, **tracked}


@pytest.mark.slow
def test_torchvisions_resnet34_imports_with_its_logits():
    from bnno import models

    mapping = torchvision_resnet.torchvision_resnet(resnet34_state(), "resnet34")
    assert mapping.hparams == {} and mapping.num_classes == 1000
    net = models.get("resnet34")((32, 32, 3), 1000)
    mapping.assign(net)
    assert_official(logits_of(net), np.load(FIXTURES / "resnet34_logits.npy"))


def test_another_resnet_is_named():
    state = {k: np.zeros(s, np.float32) for k, s in keys(torchvision_resnet.layout()).items()}
    resnet18 = {k: v for k, v in state.items() if not k.startswith(("layer1.2", "layer2.2",
                                                                    "layer2.3"))}
    with pytest.raises(BnnoError) as error:
        torchvision_resnet.torchvision_resnet(resnet18, "resnet34")
    assert one_line(error) == ("the checkpoint does not fit resnet34: key 'layer1.2.conv1."
                               "weight' is missing; it looks like torchvision's ResNet-18")


def test_teacher_weights_torchvision_is_torchvisions_file_in_torch_hubs_folder(tmp_path,
                                                                              monkeypatch):
    from bnno.checkpoints.registry import source
    from bnno.config.teachers import resolve

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(BnnoError, match="resnet34 weights resnet34-b627a593.pth are not in "
                                        ".*; download https://download.pytorch.org/models/"):
        source("torchvision", "resnet34")
    folder = tmp_path / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    (folder / "resnet34-b627a593.pth").write_bytes(b"")
    assert source("torchvision", "resnet34") == folder / "resnet34-b627a593.pth"
    assert resolve("resnet34", "torchvision")[0].weights == "torchvision"
