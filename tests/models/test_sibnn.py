"""Si-BNN: the {0, 1} binarizer, its thresholds, the models, sparsity and the xnor identity."""

import bnno  # noqa: F401

# isort: split

import json

import larq as lq
import numpy as np
import pytest
import tensorflow as tf
from conftest import build_flat, compile_flat, resolved

from bnno import hparams, models
from bnno.analysis.summary import profile
from bnno.config.schema import schema_for
from bnno.optimizers import l2
from bnno.quantizers import sibnn
from bnno.training import build

SHORT = ["--steps-per-epoch", "2", "--validation-steps", "1", "--seed", "1"]


def quantize(x, theta, inv_delta, rho):
    """Forward values and gradients of x, θ and 1/Δ for an upstream gradient of ones."""
    q = sibnn.SiBnn(rho=rho, sparsity=False)
    x = tf.constant(x, tf.float32)
    q.build(x.shape)
    q.theta.assign(theta)
    q.inv_delta.assign(inv_delta)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = q(x)
    dx, dtheta, dinv = tape.gradient(y, [x, q.theta, q.inv_delta])
    return y.numpy(), dx.numpy(), dtheta.numpy(), dinv.numpy()


@pytest.mark.slow
def test_forward_and_window_at_the_edges():
    # One channel, θ = 0, 1/Δ = 1, ρ = 0.3: the window is −0.3 < x < 1, both ends open.
    x = [[-1.0], [-0.3], [-0.29], [0.0], [0.5], [0.99], [1.0], [2.0]]
    y, dx, dtheta, dinv = quantize(x, [0.0], [1.0], 0.3)
    assert y.ravel().tolist() == [0, 0, 0, 0, 1, 1, 1, 1]  # y == 0 gives 0, as in the paper
    assert dx.ravel().tolist() == [0, 0, 1, 1, 1, 1, 0, 0]
    inside = np.array([0, 0, 1, 1, 1, 1, 0, 0], bool)
    assert dtheta[0] == pytest.approx(-inside.sum())
    assert dinv[0] == pytest.approx(np.asarray(x).ravel()[inside].sum())


@pytest.mark.slow
def test_threshold_and_scale_move_the_step_and_scale_the_gradient():
    # Two channels with their own θ and 1/Δ; compare with the formulas in NumPy.
    x = np.array([[0.2, 0.2], [0.6, 0.6], [0.9, 0.9], [-0.1, -0.1], [1.4, 1.4]], np.float32)
    theta, inv_delta, rho = np.array([0.5, 0.0]), np.array([2.0, 0.5]), 0.3
    y, dx, dtheta, dinv = quantize(x, theta, inv_delta, rho)
    z = (x - theta) * inv_delta
    window = (z > -rho) & (z < 1)
    np.testing.assert_array_equal(y, (z > 0).astype(np.float32))
    np.testing.assert_allclose(dx, window * inv_delta)
    np.testing.assert_allclose(dtheta, -(window * inv_delta).sum(0))
    np.testing.assert_allclose(dinv, (window * (x - theta)).sum(0), rtol=1e-6)
    assert y[0].tolist() == [0, 1]  # 0.2 is below channel 0's threshold 0.5 only


@pytest.mark.slow
def test_sparsity_metric_is_the_fraction_of_zeros():
    q = sibnn.SiBnn()
    q(tf.constant([[-1.0, 2.0, 3.0, -4.0], [1.0, 1.0, 1.0, -1.0]]))
    assert float(q.sparsity.result()) == pytest.approx(3 / 8)


def binarynet_sibnn(set_name: str, extra: str = "") -> tuple[tf.keras.Model, dict]:
    hp = resolved("binarynet", set_name,
                  f"filters=4,dense_units=8,activation=sibnn,activation.rho=0.2{extra}")
    return build_flat("binarynet", hp, (32, 32, 3), 10), hp


@pytest.mark.slow
@pytest.mark.parametrize("set_name", ["bop", "default"])
def test_thresholds_train_with_adam_and_are_never_decayed(set_name):
    model, hp = binarynet_sibnn(set_name, ",l2_decay=1e-2")
    assert hp["activation"] == {"name": "sibnn", "rho": 0.2}
    assert all(q.rho == 0.2 for q in sibnn.quantizers(model))
    thresholds = sibnn.thresholds(model)
    assert len(thresholds) == 2 * 8  # θ and 1/Δ of the 8 binarized layers
    assert not any(lq.optimizers.Bop.is_binary_variable(v) for v in thresholds)
    decayed = {id(v) for v in l2.decayed(model)}
    assert not decayed & {id(v) for v in thresholds}
    assert not decayed & {id(v) for v in build.optimizers.binary_kernels(model)}

    compile_flat(model, hp, steps_per_epoch=1)
    expected = 0.5 * 1e-2 * sum(float(tf.reduce_sum(v**2)) for v in l2.decayed(model))
    assert float(tf.add_n(model.losses)) == pytest.approx(expected, rel=1e-5)
    if set_name == "bop":
        optimizer_of = model.optimizer.var_opt_mapping
        assert all(optimizer_of[v._unique_id] == 1 for v in thresholds)  # 1: Adam
    before = [v.numpy().copy() for v in thresholds]
    x = np.random.default_rng(0).normal(size=(8, 32, 32, 3)).astype(np.float32)
    y = tf.one_hot(np.arange(8) % 10, 10)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    changed = [not np.array_equal(b, v.numpy()) for b, v in zip(before, thresholds, strict=True)]
    assert all(changed)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["binarynet", "binary_alexnet", "xnornet", "birealnet"])
def test_every_binary_model_takes_sibnn(model):
    hp = resolved(model, hparams.set_names(model)[0], "activation=sibnn")
    net = build_flat(model, hp, (32, 32, 3), 10)
    layers = [layer for layer in build._all_layers(net)
              if getattr(layer, "input_quantizer", None) is not None]
    assert layers and all(isinstance(layer.input_quantizer, sibnn.SiBnn) for layer in layers)
    # larq counts a {0, 1} × ±1 layer's MACs as binary operations.
    plain = build_flat(model, {**hp, "activation": "ste_sign"}, (32, 32, 3), 10)
    assert profile(net)["binary_macs"] == profile(plain)["binary_macs"] > 0
    clone = tf.keras.models.clone_model(net)  # rebuilt from its config
    assert len(sibnn.quantizers(clone)) == len(layers)


@pytest.mark.slow
def test_old_input_quantizer_key_still_works():
    hp = resolved("binarynet", "bop", "input_quantizer=bnext_sign")
    assert hp["activation"] == "bnext_sign"
    schema = schema_for("binarynet")
    assert hparams.sectioned({"input_quantizer": "sibnn"}, schema).sections["model"] == {
        "activation": "sibnn"}


@pytest.mark.slow
def test_xnor_identity_with_padded_borders():
    """A {0,1}-input binary conv is a ±1 xnor conv plus a per-channel constant:
    w·a = ½(w·s + Σw) with s = 2a − 1. Zero padding of a is s = −1 at the border; an
    engine that pads ±1 inputs with +1 (LCE) computes the same from −s:
    w·a = ½(Σw − w·(−s)) with −s padded with +1."""
    rng = np.random.default_rng(0)
    a = (rng.random((2, 7, 6, 5)) > 0.6).astype(np.float32)  # sparse {0, 1}
    w = np.sign(rng.normal(size=(3, 3, 5, 4))).astype(np.float32)
    direct = tf.nn.conv2d(a, w, 1, "SAME").numpy()
    s = 2 * a - 1
    padded_s = np.pad(s, [(0, 0), (1, 1), (1, 1), (0, 0)], constant_values=-1.0)
    xnor = tf.nn.conv2d(padded_s, w, 1, "VALID").numpy()
    total = w.sum(axis=(0, 1, 2))
    np.testing.assert_array_equal(direct, 0.5 * (xnor + total))
    # The same through larq's layer with ±1 inputs and +1 padding (what LCE runs).
    layer = lq.layers.QuantConv2D(4, 3, padding="same", pad_values=1.0,
                                  input_quantizer="ste_sign", use_bias=False)
    layer.build(a.shape)
    layer.kernel.assign(w)
    plus_one_padded = layer(-s).numpy()
    np.testing.assert_array_equal(direct, 0.5 * (total - plus_one_padded))
    # And the border outputs really use padding (not a shrunken "valid" conv).
    assert direct.shape == a.shape[:3] + (4,)


@pytest.mark.usefixtures("graph_mode")
@pytest.mark.slow
def test_sibnn_models_reference_shapes():
    net = models.get("sibnn_resnet18")((224, 224, 3), 1000)
    # Official code: binary 3×3 convs as Bi-Real-18, fp 1×1 shortcuts, fp stem and fc;
    # BN before and after each binary conv, θ and 1/Δ per input channel of each.
    widths = [(64, 64)] * 2 + [(64, 128), (128, 128), (128, 256), (256, 256), (256, 512),
                               (512, 512)]
    binary = sum(9 * i * o + 9 * o * o for i, o in widths)
    shortcuts = sum(i * o + 2 * o for i, o in widths if i != o)  # conv + BN γ/β
    per_block = sum(2 * (i + 3 * o) + 2 * (i + o) for i, o in widths)  # BNs + θ, 1/Δ
    trainable = 7 * 7 * 3 * 64 + 2 * 64 + binary + shortcuts + per_block + 512 * 1000 + 1000
    assert sum(int(np.prod(v.shape)) for v in net.trainable_weights) == trainable
    assert profile(net)["binary_params"] == binary == 10_985_472
    assert net.get_layer(index=-1).output_shape == (None, 1000)
    mlp = models.get("sibnn_mlp")((28, 28, 1), 10)
    assert profile(mlp)["binary_macs"] == 2 * 2048 * 2048


@pytest.mark.slow
@pytest.mark.parametrize(
    "model, dataset, set_name, extra",
    [
        ("sibnn_mlp", "mnist", "sibnn", ",units=32"),
        ("sibnn_mlp", "mnist", "sibnn_bop", ",units=32"),
        # The ImageNet models' sets preprocess with ``sibnn`` (JPEG only); on CIFAR a
        # run names the preprocessing.
        ("sibnn_resnet18", "cifar10", "sibnn_cosine", ",filters=8,preprocess_fn=resize_and_flip"),
        ("sibnn_alexnet", "cifar10", "sibnn", ",preprocess_fn=resize_and_flip"),
        ("sibnn_vgg", "cifar10", "sibnn", ",preprocess_fn=resize_and_flip"),
    ],
)
def test_models_train_and_log_sparsity(mock_tfds, cli, tmp_path, model, dataset, set_name,
                                       extra):
    out = tmp_path / "run"
    code, _, err = cli("train", model, "--dataset", dataset, "--hparams-set", set_name,
                       "--hparams", f"batch_size=4,epochs=1{extra}", "--output-dir", str(out),
                       *SHORT)
    assert code == 0, err
    row = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    sparsity = {k: v for k, v in row.items() if k.startswith("sparsity/")}
    assert sparsity and all(0.0 <= v <= 1.0 for v in sparsity.values())
    assert np.isfinite(row["loss"])


@pytest.mark.slow
def test_sparsity_reaches_tensorboard(mock_tfds, cli, tmp_path):
    out = tmp_path / "run"
    code, _, err = cli("train", "binarynet", "--dataset", "cifar10", "--hparams-set", "bop",
                       "--hparams", "filters=4,dense_units=8,batch_size=4,epochs=1,"
                       "activation=sibnn", "--tensorboard", "--output-dir", str(out), *SHORT)
    assert code == 0, err
    tags = set()
    for event_file in (out / "logs" / "train").glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(event_file)):
            tags.update(v.tag for v in event.summary.value)
    assert any(t.startswith("epoch_sparsity/") for t in tags), sorted(tags)
    # Export drops the sparsity metrics (mutable state) and still agrees with Keras.
    code, stdout, err = cli("export", str(out), "-o", str(tmp_path / "m.tflite"),
                            "--check-examples", "16")
    assert code == 0, err
    assert (tmp_path / "m.tflite").stat().st_size > 0 and "top-1 100.00%" in stdout


def test_bad_activation_names_the_choices(cli):
    code, _, err = cli("train", "binarynet", "--dataset", "cifar10",
                       "--hparams", "activation=sparse")
    assert code == 2 and "unknown activation 'sparse'" in err and "sibnn" in err
    code, _, err = cli("train", "binarynet", "--dataset", "cifar10",
                       "--hparams", "activation=sibnn,activation.rho=2")
    assert code == 2 and "option 'rho' of quantizer 'sibnn' expects a number from 0 to 1" in err
    code, _, err = cli("train", "binarynet", "--dataset", "cifar10",
                       "--hparams", "activation.rho=0.2")
    assert code == 2 and "quantizer 'ste_sign' has no option 'rho'" in err
