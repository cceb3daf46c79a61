"""BNext: official parameter counts, block semantics, initialisation, quantizers,
temperature, AdamW groups, schedule, distillation and an end-to-end run."""

import bnno  # noqa: F401

# isort: split

import json
import math

import larq as lq
import numpy as np
import pytest
import tensorflow as tf
from conftest import resolved

from bnno import models
from bnno.analysis.summary import profile
from bnno.config import teachers
from bnno.data import randaugment
from bnno.models.bnext import WIDTHS, quantizer_settings
from bnno.models.bnext_layers import LearnableBias, Mix, binary_module, prelu
from bnno.optimizers.keras.legacy_adamw import AdamW, low_decay_variables
from bnno.quantizers.bnext import BNextSign, BNextWeight
from bnno.schedules.warmup_cosine import WarmupCosineEpochs
from bnno.training import distill

SHORT = ["--steps-per-epoch", "2", "--validation-steps", "1", "--seed", "1"]


def official_params(size: str, classes: int = 1000) -> int:
    """Trainable parameters of the official BNext the forward pass uses (PyTorch layout):
    the stem's PReLU and the unused ``activation1`` of the FFN modules are left out."""
    w = WIDTHS[size]

    def module(c: int, k: int, elm: bool) -> int:
        se = c * (c // 8) + c // 8 + (c // 8) * c + c
        # bias, conv, BN1, PReLU2, scale, SE, BN2 (+ PReLU1 of the ELM attention)
        return c + k * k * c * c + 2 * c + c + c + se + 2 * c + (c if elm else 0)

    total = 3 * 9 * w[0] + 2 * w[0]
    for i in range(1, len(w)):
        c = w[i - 1]
        total += module(c, 3, elm=i >= 2 and i % 2 == 0)
        total += module(c, 1, elm=False) * (1 if w[i] == c else 2)
    return total + w[-1] + w[-1] * classes + classes


def official_params_18(classes: int = 1000) -> int:
    total = 7 * 7 * 3 * 64 + 2 * 64
    inplanes = 64
    for planes in (64, 128, 256, 512):
        for block in range(2):
            c_in = inplanes if block == 0 else planes
            se = planes * (planes // 8) + planes // 8 + (planes // 8) * planes + planes
            attention = (c_in + 9 * c_in * planes + 2 * planes + c_in + planes + planes + se
                         + 2 * planes)
            if block == 0 and planes != 64:
                attention += c_in * planes + 2 * planes  # 1×1 shortcut conv and BN
            ffn = planes + 9 * planes * planes + 2 * planes + planes + planes + se + 2 * planes
            total += attention + ffn
        inplanes = planes
    return total + 512 + 512 * classes + classes


def trainable(net) -> int:
    return sum(int(np.prod(v.shape)) for v in net.trainable_weights)


@pytest.mark.usefixtures("graph_mode")
@pytest.mark.slow
@pytest.mark.parametrize("name, size", [("bnext_t", "tiny"), ("bnext_s", "small"),
                                        ("bnext_m", "middle"), ("bnext_l", "large")])
def test_parameter_counts_equal_the_official_models(name, size):
    net = models.get(name)((32, 32, 3), 1000)  # counts do not depend on the input size
    assert trainable(net) == official_params(size)


@pytest.mark.usefixtures("graph_mode")
@pytest.mark.slow
def test_bnext_18_parameters_and_imagenet_costs():
    net = models.get("bnext_18")((224, 224, 3), 1000)
    assert trainable(net) == official_params_18() == 12_062_728
    counts = profile(net)
    assert counts["binary_params"] == 10_985_472 and counts["bops"] == 1_676_279_808
    t = models.get("bnext_t")((224, 224, 3), 1000)
    counts = profile(t)
    assert t.output_shape == (None, 1000) and t.get_layer("logits").units == 1000
    # ReActNet-A's published 4.82 G BOPs: same widths and resolutions.
    assert counts["bops"] == 4_816_896_000
    assert counts["ops"] == counts["bops"] / 64 + counts["flops"]
    assert counts["binarization_degree"] == pytest.approx(75.264e6 / counts["ops"])


def random_weights(model, rng):
    for layer in model.layers:
        weights = [rng.normal(size=w.shape).astype(np.float32) for w in layer.get_weights()]
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            weights[-1] = np.abs(weights[-1]) + 0.5  # moving variance
        if isinstance(layer, Mix):
            weights = [rng.uniform(size=w.shape).astype(np.float32) for w in weights]
        layer.set_weights(weights)
    for t in [q.temperature for q in model.submodules if isinstance(q, BNextWeight)]:
        t.assign(1.0)


@pytest.mark.slow
def test_elm_attention_module_equals_its_definition():
    """A stride-2 ELM module built by hand from TF ops on the layers' own weights."""
    rng = np.random.default_rng(0)
    image = tf.keras.Input((6, 6, 16))
    quantizers = quantizer_settings("bnext_sign", "bnext_weight", "weight_clip", 1.5, 1e-7)
    pooled = tf.keras.layers.AvgPool2D(2)(image)
    shortcut = tf.keras.layers.AvgPool2D(2)(prelu(image))
    out = binary_module(image, 3, 2, quantizers, mix_input=pooled, shortcut=shortcut, elm=True)
    model = tf.keras.Model(image, out)
    random_weights(model, rng)
    x = rng.normal(size=(2, 6, 6, 16)).astype(np.float32)

    def layer(kind, index=0):
        return [m for m in model.layers if isinstance(m, kind)][index]

    prelus = [m for m in model.layers if isinstance(m, tf.keras.layers.PReLU)]
    first = next(p for p in prelus if p.input is image)
    second = next(p for p in prelus if p is not first)
    bns = [m for m in model.layers if isinstance(m, tf.keras.layers.BatchNormalization)]
    convs = [m for m in model.layers if type(m) is tf.keras.layers.Conv2D]

    def batch_norm(y, bn):
        gamma, beta, mean, var = bn.get_weights()
        return (y - mean) / np.sqrt(var + 1e-5) * gamma + beta

    def p_relu(y, p):
        return np.maximum(y, 0) + p.get_weights()[0] * np.minimum(y, 0)

    def avg_pool(y):
        return tf.nn.avg_pool2d(y, 2, 2, "VALID").numpy()

    a = np.sign(x + layer(LearnableBias).get_weights()[0])
    a = np.pad(a, [(0, 0), (1, 1), (1, 1), (0, 0)])  # zeros after the sign
    kernel = np.clip(layer(lq.layers.QuantConv2D).get_weights()[0], -1, 1)  # T = 1
    y = tf.nn.conv2d(a, kernel, 2, "VALID").numpy()
    y = p_relu(batch_norm(y, bns[0]), second)
    r = avg_pool(p_relu(x, first))
    s = layer(Mix).get_weights()[0]
    mix = s * avg_pool(x) + (1 - s) * y
    k1, b1 = convs[0].get_weights()
    k2, b2 = convs[1].get_weights()
    squeezed = np.maximum(mix.mean(axis=(1, 2), keepdims=True) @ k1[0, 0] + b1, 0)
    attention = 1 / (1 + np.exp(-(squeezed @ k2[0, 0] + b2)))
    expected = batch_norm(attention * y * r, bns[1]) + r
    np.testing.assert_allclose(model(x, training=False).numpy(), expected, rtol=1e-4,
                               atol=1e-4)


@pytest.fixture(scope="module")
def narrow_t():
    return models.get("bnext_t")((32, 32, 3), 10, width_multiplier=0.25)


@pytest.mark.slow
def test_widening_block_concatenates_two_independent_ffns(narrow_t):
    net = narrow_t
    concats = [m for m in net.layers if isinstance(m, tf.keras.layers.Concatenate)]
    assert len(concats) == 5  # where the width doubles: blocks 1, 2, 4, 6, 12
    for concat in concats:
        left, right = concat.input
        assert left.shape == right.shape and concat.output.shape[-1] == 2 * left.shape[-1]
    # The stride-1 stem for 32×32 keeps the resolution until the first stride-2 block.
    assert net.layers[2].output.shape[1:3] == (32, 32)


@pytest.mark.slow
def test_activation_binarizer_forward_and_window():
    x = tf.constant([-2.0, -1.5, -0.2, 0.0, 0.7, 1.5, 1.6])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = BNextSign()(x)
    np.testing.assert_array_equal(y.numpy(), [-1, -1, -1, 0, 1, 1, 1])
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [0, 1, 1, 1, 1, 1, 0])


@pytest.mark.slow
def test_weight_binarizer_temperature_and_identity_gradient():
    q = BNextWeight(cutoff=1e-7)
    w = tf.Variable([0.3, -0.6, 1.2, -0.05])
    q.build(w.shape)
    for t, expected in [(1.0, [0.3, -0.6, 1.0, -0.05]), (0.5, [0.6, -1.0, 1.0, -0.1]),
                        (1e-8, [1.0, -1.0, 1.0, -1.0])]:
        q.temperature.assign(t)
        with tf.GradientTape() as tape:
            y = q(w)
        np.testing.assert_allclose(y.numpy(), expected, rtol=1e-6)
        np.testing.assert_array_equal(tape.gradient(y, w).numpy(), [1, 1, 1, 1])
    net = models.get("bnext_18")((32, 32, 3), 10, width_multiplier=0.125)
    conv = next(m for m in net.layers if isinstance(m, lq.layers.QuantConv2D))
    assert conv.kernel_quantizer.cutoff == 1e-5 and conv.kernel_constraint.clip_value == 1.5
    assert np.std(conv.kernel.numpy()) == pytest.approx(1e-3, rel=0.3)


@pytest.mark.slow
def test_full_precision_layers_start_as_pytorch_initialises_them(narrow_t):
    """The official code keeps PyTorch's defaults: kaiming_uniform(a=√5) weights and
    biases, U(±1/√fan_in), with fan_in computed here from the layer's input channels and
    kernel size; binary kernels randn · 0.001; PReLU 0.25."""
    narrow_18 = models.get("bnext_18")((32, 32, 3), 10, width_multiplier=0.125)
    for net in (narrow_t, narrow_18):
        kernels, biases = [], []
        for layer in net.layers:
            if type(layer) is tf.keras.layers.Conv2D:
                kh, kw = layer.kernel_size
                fan_in = kh * kw * int(layer.input.shape[-1])
            elif type(layer) is tf.keras.layers.Dense:
                fan_in = int(layer.input.shape[-1])
            else:
                continue
            bound = 1 / math.sqrt(fan_in)
            kernel = layer.kernel.numpy()
            assert np.abs(kernel).max() <= bound, layer.name
            kernels.append(kernel.ravel() / bound)
            if layer.use_bias:
                bias = layer.bias.numpy()
                assert np.abs(bias).max() <= bound, layer.name
                biases.append(bias / bound)
        # Scaled by their bounds, the values are U(−1, 1): mean 0, deviation 1/√3
        # (tolerances: about 5 standard errors of these sample sizes).
        kernels, biases = np.concatenate(kernels), np.concatenate(biases)
        assert kernels.size > 5000 and biases.size > 300
        for values, tolerance in ((kernels, 0.05), (biases, 0.12)):
            assert abs(values.mean()) < 3 * tolerance
            assert values.std() == pytest.approx(1 / math.sqrt(3), rel=tolerance)
        stem = next(m for m in net.layers if type(m) is tf.keras.layers.Conv2D)
        assert stem.kernel.numpy().std() == pytest.approx(
            1 / math.sqrt(3 * 9 * 3 if stem.kernel_size == (3, 3) else 3 * 49 * 3), rel=0.15)
        # Binary kernels: N(0, 1e-3²) as randn · 0.001; PReLU slopes 0.25.
        binary = np.concatenate([m.kernel.numpy().ravel() for m in net.layers
                                 if isinstance(m, lq.layers.QuantConv2D)])
        assert binary.std() == pytest.approx(1e-3, rel=0.05)
        slopes = [m.alpha.numpy() for m in net.layers if isinstance(m, tf.keras.layers.PReLU)]
        assert all(np.all(s == 0.25) for s in slopes)


@pytest.mark.slow
def test_adamw_groups_and_decoupled_decay(narrow_t):
    net = narrow_t
    low = {id(v) for v in low_decay_variables(net)}
    for layer in net.submodules:
        if not isinstance(layer, tf.keras.layers.Layer):
            continue
        for v in layer._trainable_weights:
            is_conv_kernel = isinstance(layer, tf.keras.layers.Conv2D) and v is layer.kernel
            expect_low = is_conv_kernel or isinstance(layer, (LearnableBias, Mix))
            assert (id(v) in low) == expect_low, v.name
    names = {v.name.split("/")[-1].split(":")[0] for v in net.trainable_variables
             if id(v) not in low}
    assert names == {"gamma", "beta", "alpha", "bias", "kernel"}  # BN, PReLU, SE bias, dense

    opt = AdamW(1e-3, weight_decay=1e-3, weight_decay_low=1e-8, global_clipnorm=5.0)
    opt.assign_groups(net)
    before = [v.numpy().copy() for v in net.trainable_variables]
    # Zero gradients: Adam's step is 0, only the decay p ← p·(1 − lr·wd) acts.
    opt.apply_gradients([(tf.zeros_like(v), v) for v in net.trainable_variables])
    for b, v in zip(before, net.trainable_variables, strict=True):
        wd = 1e-8 if id(v) in low else 1e-3
        np.testing.assert_allclose(v.numpy(), b * (1 - 1e-3 * wd), rtol=1e-6)
    grads = [tf.fill(v.shape, 10.0) for v in net.trainable_variables[:3]]
    clipped = opt._transform_gradients(list(zip(grads, net.trainable_variables[:3],
                                                strict=True)))
    assert float(tf.linalg.global_norm([g for g, _ in clipped])) == pytest.approx(5.0)


def test_epoch_schedule_is_timms():
    lr = WarmupCosineEpochs(1e-3, 1e-5, 5, 1e-7, 512, steps_per_epoch=10)
    for epoch, value in [(0, 1e-5), (4, 1e-5 + 4 * (1e-3 - 1e-5) / 5), (5, 1e-3),
                         (511, 1e-7 + 0.5 * (1e-3 - 1e-7) * (1 + math.cos(math.pi * 506 / 512)))]:
        assert lr.epoch_value(epoch) == pytest.approx(value)
        for step in (epoch * 10, epoch * 10 + 9):  # constant within the epoch
            assert float(lr(step)) == pytest.approx(value, rel=1e-5)
    hp = resolved("bnext_t", "imagenet", None)
    assert hp["learning_rate"]["cosine_epochs"] == 512 and hp["clip_norm"] == 5.0
    assert (hp["batch_size"], hp["epochs"]) == (512, 512)
    assert resolved("bnext_l", "imagenet", None)["batch_size"] == 128


def test_distillation_loss_matches_the_official_formula():
    rng = np.random.default_rng(1)
    s, t1, t2 = (rng.normal(size=(4, 5)).astype(np.float32) for _ in range(3))

    def softmax(z):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    log_s = np.log(softmax(s))
    ce = np.stack([-(softmax(t) * log_s).sum(axis=1) for t in (t1, t2)], axis=1)
    alpha = softmax(ce)
    expected = (alpha.mean(axis=0) * ce.mean(axis=0)).sum() / 2
    got = distill.distillation_loss(tf.constant(s), [tf.constant(t1), tf.constant(t2)])
    assert float(got) == pytest.approx(expected, rel=1e-5)
    # No gradient flows through the weights α: the gradient is Σ ᾱ_t ∂L_t / 2.
    student = tf.Variable(s)
    with tf.GradientTape() as tape:
        loss = distill.distillation_loss(student, [tf.constant(t1), tf.constant(t2)])
    grad = tape.gradient(loss, student).numpy()
    manual = sum(alpha.mean(axis=0)[i] * (softmax(s) - softmax(t)) / 4
                 for i, t in enumerate((t1, t2))) / 2
    np.testing.assert_allclose(grad, manual, rtol=1e-4, atol=1e-7)


def test_teacher_phases_switch_at_equal_fractions():
    def sequence(model):
        hp = resolved(model, "imagenet", None)
        names = teachers.parse(hp["teachers"])
        return [names[distill.phase(e, 512, len(names) - 1)] for e in range(512)]

    m = sequence("bnext_m")
    assert m[:256] == ["efficientnet_b0"] * 256 and m[256:] == ["efficientnet_b2"] * 256
    large = sequence("bnext_l")
    assert large.index("efficientnet_b4") == 171 and large.index("convnext_tiny") == 342
    assert set(sequence("bnext_t")) == {"efficientnet_b0"}


@pytest.mark.slow
def test_rand_augment_keeps_shape_range_and_is_seeded():
    image = tf.random.stateless_uniform((32, 32, 3), [1, 2], 0, 255)
    tf.random.set_seed(3)
    a = [randaugment.rand_augment(image).numpy() for _ in range(3)]
    tf.random.set_seed(3)
    b = [randaugment.rand_augment(image).numpy() for _ in range(3)]
    for x, y in zip(a, b, strict=True):
        assert x.shape == (32, 32, 3) and 0 <= x.min() and x.max() <= 255
        np.testing.assert_array_equal(x, y)
    for op in randaugment.OPS:
        out = op(image, tf.constant(7.0))
        assert out.shape == image.shape and float(tf.reduce_max(out)) <= 255.0


@pytest.mark.slow
def test_temperature_schedule_survives_a_resume(mock_tfds, cli, tmp_path):
    def run(out, epochs):
        code, _, err = cli("train", "bnext_18", "--dataset", "cifar10", "--hparams-set",
                           "cifar", "--hparams",
                           f"width_multiplier=0.125,batch_size=4,epochs={epochs}",
                           "--output-dir", str(out), *SHORT)
        assert code == 0, err

    def temperatures(out):
        import h5py

        found = set()
        with h5py.File(out / "bnext_18_weights.h5", "r") as f:
            f.visititems(lambda name, item: found.add(round(float(item[()]), 6))
                         if name.endswith("temperature:0") else None)
        return found

    run(tmp_path / "a", 1)
    assert temperatures(tmp_path / "a") == {0.9}  # saved with the weights
    run(tmp_path / "a", 2)  # resumed for one more epoch: the schedule's second value
    assert temperatures(tmp_path / "a") == {0.81}


@pytest.mark.slow
def test_distillation_end_to_end_with_a_bnno_teacher(mock_tfds, cli, tmp_path):
    teacher = tmp_path / "teacher"
    code, _, err = cli("train", "binarynet", "--dataset", "cifar10", "--hparams-set", "default",
                       "--hparams", "filters=4,dense_units=8,batch_size=4,epochs=1,"
                       "kernel_quantizer=none,kernel_constraint=none,activation=none",
                       "--output-dir", str(teacher), *SHORT)
    assert code == 0, err
    out = tmp_path / "student"
    code, stdout, err = cli("train", "bnext_t", "--dataset", "cifar10", "--hparams-set",
                            "cifar", "--hparams", f"width_multiplier=0.125,batch_size=4,"
                            f"epochs=2,teachers={teacher}+{teacher}", "--output-dir", str(out),
                            *SHORT)
    assert code == 0, err
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]
    assert all(r["teacher_s"] > 0 and np.isfinite(r["loss"]) for r in rows)
    # Validation is the student's own: label loss, no distillation loss.
    assert all(np.isfinite(r["val_loss"]) and "val_distill_loss" not in r for r in rows)
    code, _, err = cli("train", "bnext_t", "--dataset", "cifar10", "--hparams-set", "cifar",
                       "--hparams", "teachers=resnet_b9", "--output-dir", str(tmp_path / "x"))
    assert code == 2 and "unknown teacher 'resnet_b9'" in err and "efficientnet_b0" in err


@pytest.mark.slow
def test_summary_prints_ops_beside_the_readme(cli):
    code, stdout, err = cli("summary", "bnext_t", "--dataset", "imagenet2012", "--json",
                            "--hparams", "width_multiplier=0.25")
    assert code == 0, err
    counts = json.loads(stdout)
    assert {"bops", "flops", "ops", "binarization_degree", "binary_macs"} <= set(counts)
    published = counts["published"]
    assert (published["ops"], published["binarization_degree"]) == (0.077e9, 0.9781)
    assert published["source"] == "BNext README"
    code, stdout, err = cli("summary", "bnext_t", "--dataset", "imagenet2012",
                            "--hparams", "width_multiplier=0.25")
    assert code == 0 and "BNext README: 77 M OPs, binarization degree 97.81 %" in stdout
    code, stdout, err = cli("summary", "birealnet", "--dataset", "cifar10", "--json")
    assert code == 0 and "published" not in json.loads(stdout)


@pytest.mark.slow
def test_imagenet_command_trains_with_its_teachers(mock_tfds, cli, tmp_path):
    """The issue's ImageNet command on mock JPEGs: BNext's augmentation, AdamW, and the
    EfficientNet-B0/B2 pair (timm's architectures; random weights here: no download)."""
    out = tmp_path / "run"
    code, _, err = cli("train", "bnext_t", "--dataset", "imagenet2012", "--hparams-set",
                       "imagenet", "--hparams", "width_multiplier=0.125,batch_size=2,epochs=1,"
                       "teacher_weights=none", "--output-dir", str(out),
                       "--steps-per-epoch", "1", "--validation-steps", "1")
    assert code == 0, err
    spec = json.loads((out / "run.json").read_text())
    assert spec["data"]["preprocess_fn"] == "bnext"
    row = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    assert row["teacher_s"] > 0 and np.isfinite(row["loss"])
    # The log holds the rate the next epoch uses: the second warm-up step.
    assert row["learning_rate"] == pytest.approx(1e-5 + (1e-3 - 1e-5) / 5)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["bnext_t", "bnext_18"])
def test_odd_feature_maps_get_a_one_line_error(mock_tfds, cli, tmp_path, model):
    # MNIST's 28×28 reaches 7×7 before a stride-2 block, whose two paths then disagree.
    out = tmp_path / "run"
    code, _, err = cli("train", model, "--dataset", "mnist", "--hparams-set", "cifar",
                       "--hparams", "preprocess_fn=default,batch_size=4", "--output-dir",
                       str(out), "--steps-per-epoch", "1")
    assert code == 2 and err.count("\n") == 1, err
    assert f"{model} cannot take 28×28 inputs: a stride-2 block gets a 7×7 map" in err
    assert not out.exists()
