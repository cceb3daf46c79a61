"""BNext details against the official code and the libraries it runs on: CIFAR
normalisation, the initializer of the full-precision layers (their initial values are
tested in test_bnext.py), timm's RandAugment (fill colour, PIL's bicubic sampling and
operations), PyTorch's AdamW step and the evaluation crop of timm/torchvision."""

import bnno  # noqa: F401

# isort: split

import math

import numpy as np
import pytest
import tensorflow as tf
from conftest import resolved

from bnno import data, hparams
from bnno.data import preprocessing, randaugment
from bnno.errors import BnnoError
from bnno.models.torch_init import TorchUniform
from bnno.optimizers.keras.legacy_adamw import AdamW

# The official trainer's CIFAR normalisation (hpi-xnor/BNext, train_assistant_group_amp.py).
OFFICIAL_MEAN = np.array([0.507, 0.487, 0.441])
OFFICIAL_STD = np.array([0.267, 0.256, 0.276])
# timm's fill: round(255 × ImageNet mean (0.485, 0.456, 0.406)).
IMAGENET_FILL = np.round(255 * np.array([0.485, 0.456, 0.406]))


@pytest.mark.slow
def test_crop_flip_normalize_matches_numpy():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    normalized = (image / 255.0 - OFFICIAL_MEAN) / OFFICIAL_STD
    got = preprocessing.crop_flip_normalize(tf.constant(image), False, None).numpy()
    np.testing.assert_allclose(got, normalized, rtol=1e-5, atol=1e-5)

    # Training: one of the 9 × 9 pad-4 crops of the normalised zero-padded image, or
    # its mirror image; the padding is 0 before normalisation, so −mean/std after it.
    padded = (np.pad(image, [(4, 4), (4, 4), (0, 0)]) / 255.0 - OFFICIAL_MEAN) / OFFICIAL_STD
    candidates = [c for i in range(9) for j in range(9)
                  for c in (padded[i:i + 32, j:j + 32], padded[i:i + 32, j:j + 32][:, ::-1])]
    for seed in ([1, 2], [3, 4], [5, 6]):
        got = preprocessing.crop_flip_normalize(tf.constant(image), True,
                                       tf.constant(seed, tf.int64)).numpy()
        assert min(np.abs(got - c).max() for c in candidates) < 1e-5

    with pytest.raises(BnnoError, match="RGB"):
        preprocessing.crop_flip_normalize(tf.zeros((28, 28, 1), tf.uint8), False, None)


@pytest.mark.parametrize("model", ["bnext_t", "bnext_s", "bnext_m", "bnext_l", "bnext_18"])
def test_sets_name_their_source_and_cifar_normalises(model):
    sets = hparams.load_file(model)
    for name, body in sets.items():
        assert list(body)[list(body).index("description") + 1] == "source", name
        assert "hpi-xnor/BNext" in body["source"]
    cifar = resolved(model, "cifar", None)
    assert cifar["preprocess_fn"] == "crop_flip_normalize"
    assert (cifar["batch_size"], cifar["epochs"]) == (128, 256)
    assert "paper" in sets["cifar"]["source"]
    assert "crop_flip_normalize" in data.preprocess_fns("cifar100")


def test_torch_uniform_serialises():
    init = tf.keras.initializers.deserialize(
        tf.keras.initializers.serialize(TorchUniform(fan_in=12, seed=3)))
    assert isinstance(init, TorchUniform) and (init.fan_in, init.seed) == (12, 3)
    layer = tf.keras.layers.Conv2D.from_config(
        tf.keras.layers.Conv2D(4, 1, bias_initializer=TorchUniform(7)).get_config())
    assert layer.bias_initializer.fan_in == 7


def constant_image(value=200.0, shape=(16, 20, 3)):
    return tf.fill(shape, value)


def test_geometric_ops_fill_with_the_imagenet_mean():
    image = constant_image()
    rotated = randaugment.rotate(image, 30.0).numpy()
    np.testing.assert_array_equal(rotated[0, 0], IMAGENET_FILL)  # corner: from outside
    np.testing.assert_array_equal(rotated[8, 10], [200.0] * 3)  # centre: the image
    moved = randaugment.translate_x(image, 5.5).numpy()
    # Output column j samples source x = j + 0.5 + 5.5: outside from j = 20 − 6 on.
    np.testing.assert_array_equal(moved[:, 14:], np.broadcast_to(IMAGENET_FILL, (16, 6, 3)))
    np.testing.assert_array_equal(moved[:, :14], 200.0)
    # The RandAugment table's rotation (magnitude 7: ±21°) exposes the fill too.
    tf.random.set_seed(0)
    np.testing.assert_array_equal(randaugment.OPS[3](image, tf.constant(7.0))[0, 0],
                                  IMAGENET_FILL)


def pil_bicubic_row_shift(row, shift):
    """One image row translated by ``shift`` pixels with PIL's bicubic (a = −1, edges
    clamped, pixel centres at +0.5), written from the definition of cubic convolution."""
    n = len(row)

    def weight(t):
        t = abs(t)
        if t <= 1:
            return t**3 - 2 * t**2 + 1
        if t < 2:
            return -t**3 + 5 * t**2 - 8 * t + 4
        return 0.0

    out = []
    for j in range(n):
        x = j + 0.5 + shift
        if not 0 <= x < n:
            out.append(None)
            continue
        x -= 0.5
        x0 = math.floor(x)
        value = sum(weight(x - k) * row[min(max(k, 0), n - 1)] for k in range(x0 - 1, x0 + 3))
        out.append(math.floor(min(max(value, 0.0), 255.0)))
    return out


@pytest.mark.slow
def test_translation_interpolates_bicubically():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (6, 24, 3)).astype(np.float32)
    got = randaugment.translate_x(tf.constant(image), 3.3).numpy()
    for i in range(6):
        for c in range(3):
            expected = pil_bicubic_row_shift(image[i, :, c], 3.3)
            inside = [j for j, v in enumerate(expected) if v is not None]
            np.testing.assert_array_equal(got[i, inside, c], [expected[j] for j in inside])
    # Bilinear sampling (source x = j + 3.3) would give another image.
    bilinear = 0.7 * image[:, 3:23] + 0.3 * image[:, 4:24]
    assert np.abs(got[:, :20] - np.floor(bilinear)).max() > 5


@pytest.mark.slow
def test_operations_equal_pils():
    """Each operation against PIL, which timm runs (same 8-bit input, fixed arguments)."""
    Image = pytest.importorskip("PIL.Image")
    ImageEnhance = pytest.importorskip("PIL.ImageEnhance")
    ImageOps = pytest.importorskip("PIL.ImageOps")
    rng = np.random.default_rng(2)
    array = rng.integers(0, 256, (18, 22, 3), dtype=np.uint8)
    image, x = Image.fromarray(array), tf.constant(array, tf.float32)
    fill = tuple(int(v) for v in IMAGENET_FILL)

    def transform(coefficients):
        return image.transform(image.size, Image.AFFINE, coefficients, Image.BICUBIC,
                               fillcolor=fill)

    cases = {
        "rotate": (randaugment.rotate(x, -17.0),
                   image.rotate(-17.0, resample=Image.BICUBIC, fillcolor=fill)),
        "shear_x": (randaugment.shear_x(x, 0.21), transform((1, 0.21, 0, 0, 1, 0))),
        "shear_y": (randaugment.shear_y(x, -0.27), transform((1, 0, 0, -0.27, 1, 0))),
        "translate_y": (randaugment.translate_y(x, 4.7), transform((1, 0, 0, 0, 1, 4.7))),
        "auto_contrast": (randaugment.auto_contrast(x), ImageOps.autocontrast(image)),
        "equalize": (randaugment.equalize(x), ImageOps.equalize(image)),
        "posterize": (randaugment.posterize(x, 2), ImageOps.posterize(image, 2)),
        "solarize": (randaugment.solarize(x, 77), ImageOps.solarize(image, 77)),
        "color": (randaugment.color(x, 0.37), ImageEnhance.Color(image).enhance(0.37)),
        "contrast": (randaugment.contrast(x, 1.63), ImageEnhance.Contrast(image).enhance(1.63)),
        "brightness": (randaugment.brightness(x, 1.37),
                       ImageEnhance.Brightness(image).enhance(1.37)),
        "sharpness": (randaugment.sharpness(x, 1.63),
                      ImageEnhance.Sharpness(image).enhance(1.63)),
    }
    for name, (ours, theirs) in cases.items():
        diff = np.abs(ours.numpy() - np.asarray(theirs, np.float32))
        # Floating-point rounding may move a value across an integer: at most by 1.
        assert diff.max() <= 1 and np.mean(diff > 0) < 0.01, name


def test_adamw_step_is_pytorchs():
    """Three steps against a transcription of torch.optim.AdamW, with gradients so small
    that where ε is added matters."""
    lr, wd, eps, b1, b2 = 1e-3, 1e-3, 1e-8, 0.9, 0.999
    rng = np.random.default_rng(3)
    p = rng.normal(size=6)
    grads = [rng.normal(size=6) * 1e-8 for _ in range(3)]
    var = tf.Variable(p.astype(np.float32))
    opt = AdamW(lr, weight_decay=wd)
    m = v = np.zeros(6)
    for t, g in enumerate(grads, start=1):
        opt.apply_gradients([(tf.constant(g, tf.float32), var)])
        p = p * (1 - lr * wd)
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        p = p - lr / (1 - b1**t) * m / (np.sqrt(v) / math.sqrt(1 - b2**t) + eps)
        np.testing.assert_allclose(var.numpy(), p, rtol=1e-6, atol=1e-9)


@pytest.mark.slow
def test_bnext_evaluation_crop_is_torchvisions():
    """Resize the shorter side to ⌊224 / 0.95⌋ = 235 (the longer side truncated), then
    the centre crop with rounded offsets; 8-bit values, then ImageNet normalisation."""
    rng = np.random.default_rng(4)
    array = rng.integers(0, 256, (300, 401, 3), dtype=np.uint8)
    jpeg = tf.io.encode_jpeg(array, quality=100)
    decoded = tf.io.decode_jpeg(jpeg, channels=3)
    new_w = int(235 * 401 / 300)  # torchvision's Resize(235): 314
    top, left = int(round((235 - 224) / 2.0)), int(round((new_w - 224) / 2.0))
    resized = tf.image.resize(decoded, [235, new_w], method="bicubic", antialias=True)
    crop = np.round(np.clip(resized.numpy()[top:top + 224, left:left + 224], 0, 255))
    expected = (crop - 255 * np.array([0.485, 0.456, 0.406])) / (
        255 * np.array([0.229, 0.224, 0.225]))
    np.testing.assert_allclose(preprocessing.bnext(jpeg, False, None).numpy(), expected, atol=1e-4)
