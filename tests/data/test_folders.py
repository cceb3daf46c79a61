"""Image folders (train/ and val/ of class subfolders) and tfds datasets by name."""

import importlib.util
import json

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from conftest import TINY
from mock_bnno import MOCK_EXAMPLES, write_mock_metadata

from bnno import data, runs
from bnno.data import folders, registry
from bnno.deploy import metadata
from bnno.errors import BnnoError

SHORT = ("--steps-per-epoch", "2", "--validation-steps", "1", "--seed", "1",
         "--no-tensorboard")
CLASSES = ("square", "circle", "bar")  # written in this order; sorted: bar, circle, square


def draw(cls: str, i: int, size: int) -> np.ndarray:
    """A picture of class ``cls``: its shape drawn bright on a dark, noisy background."""
    rng = np.random.default_rng(i)
    image = rng.integers(0, 60, (size, size, 3)).astype(np.uint8)
    c, r = size // 2, size // 4
    yy, xx = np.mgrid[:size, :size]
    mask = {"square": (abs(yy - c) < r) & (abs(xx - c) < r),
            "circle": (yy - c) ** 2 + (xx - c) ** 2 < r * r,
            "bar": abs(xx - c) < r // 2}[cls]
    image[mask] = 200 + 10 * (i % 5)
    return image


def make_folder(root, size=32, per_class=6, val="val", classes=CLASSES):
    """``root/train`` and ``root/<val>``, a folder per class, half PNGs and half JPEGs."""
    for split, count in (("train", per_class), (val, 3)):
        for cls in classes:
            (root / split / cls).mkdir(parents=True)
            for i in range(count):
                image = draw(cls, i, size)
                if i % 2:
                    encoded = tf.io.encode_jpeg(image, quality=95).numpy()
                    (root / split / cls / f"{i}.jpg").write_bytes(encoded)
                else:
                    (root / split / cls / f"{i}.png").write_bytes(tf.io.encode_png(image).numpy())
    return root


@pytest.fixture
def folder(tmp_path):
    return make_folder(tmp_path / "shapes")


@pytest.mark.slow
def test_scan_sorts_classes_and_labels_files_by_folder(folder):
    ds = data.load(str(folder))
    assert ds.classes == ["bar", "circle", "square"]
    assert (ds.input_shape, ds.num_classes, ds.encoded) == ((32, 32, 3), 3, False)
    assert (ds.train_examples, ds.test_examples, ds.test_split) == (18, 9, "val")
    images, labels = next(iter(ds.test(9, "default")))
    # The val/ files are listed class by class, in sorted class order.
    assert labels.numpy().argmax(1).tolist() == [0] * 3 + [1] * 3 + [2] * 3
    png = tf.io.decode_png((folder / "val" / "bar" / "0.png").read_bytes())
    np.testing.assert_allclose(images[0], png.numpy() / 127.5 - 1.0, atol=1e-6)


def test_run_order_overrides_a_changed_folder(folder, tmp_path):
    # A run trained on (square, circle, bar) reads a folder without "bar" in its own order.
    other = make_folder(tmp_path / "two", classes=("circle", "square"))
    ds = data.load(str(other), classes=["square", "circle", "bar"])
    labels = np.concatenate([y.numpy().argmax(1) for _, y in ds.test(4, "default")])
    assert ds.num_classes == 3 and labels.tolist() == [1] * 3 + [0] * 3
    with pytest.raises(BnnoError, match=r"classes the run was not trained on \(bar\)"):
        data.load(str(folder), classes=["square", "circle"])


def test_training_epochs_are_shuffled_from_the_seed(folder):
    ds = data.load(str(folder))

    def labels(seed):
        batches = ds.train(6, "resize_and_flip", seed, 0, 2, steps_per_epoch=3)
        return np.concatenate([y.numpy().argmax(1) for _, y in batches]).tolist()

    assert labels(1) == labels(1) and labels(1) != labels(2)
    first_epoch = labels(1)[:18]
    assert sorted(first_epoch) == [0] * 6 + [1] * 6 + [2] * 6  # each image once
    assert first_epoch != sorted(first_epoch)


def test_large_images_preprocess_like_imagenet(tmp_path):
    root = make_folder(tmp_path / "big", size=80, per_class=2, val="validation")
    ds = data.load(str(root), image_size=48)
    assert (ds.input_shape, ds.encoded) == ((48, 48, 3), True)
    assert set(ds.preprocess_fns) == set(registry.functions(encoded=True))  # ImageNet's
    for fn in ("default", "sibnn"):
        images, _ = next(iter(ds.train(2, fn, 1, 0, 1, steps_per_epoch=1)))
        assert images.shape == (2, 48, 48, 3)
    # The central crop of a PNG, resized: as Larq Zoo's preprocessing of the same pixels
    # (``imagenet``, which test_imagenet_crop.py checks against larq-zoo's).
    from bnno.data.preprocessing import imagenet

    images, _ = next(iter(ds.test(6, "default")))
    jpeg = tf.io.encode_jpeg(tf.io.decode_png((root / "validation" / "bar" / "0.png")
                                              .read_bytes()), quality=95)
    expected = imagenet(jpeg, False, None, 48)
    np.testing.assert_allclose(images[0], expected, atol=1e-5)
    assert data.describe(str(root)).input_shape == (224, 224, 3)


def test_small_images_of_other_sizes_are_resized(folder):
    odd = tf.io.encode_png(np.zeros((20, 24, 3), np.uint8)).numpy()
    (folder / "train" / "bar" / "odd.png").write_bytes(odd)
    ds = data.load(str(folder), image_size=16)
    images, _ = next(iter(ds.train(19, "default", 1, 0, 1)))
    assert ds.input_shape == (16, 16, 3) and images.shape == (19, 16, 16, 3)


@pytest.mark.slow
def test_folder_trains_resumes_evaluates_and_exports(folder, tmp_path, cli):
    run_dir = tmp_path / "run"
    args = ("train", "binarynet", "--dataset", str(folder), "--hparams-set", "bop",
            "--hparams", "filters=4,dense_units=8,batch_size=6,epochs=1",
            "--output-dir", str(run_dir), *SHORT)
    code, out, err = cli(*args)
    assert code == 0, err
    spec = runs.read(run_dir)["data"]
    assert spec["dataset"] == str(folder.resolve())
    assert spec["classes"] == ["bar", "circle", "square"]
    assert spec["input_shape"] == [32, 32, 3] and spec["preprocess_fn"] == "resize_and_flip"
    assert runs.default_dir("binarynet", spec["dataset"], "bop").name.startswith(
        "binarynet-shapes-bop-")

    code, out, err = cli("train", "binarynet", "--dataset", str(folder), "--hparams-set",
                         "bop", "--hparams", "filters=4,dense_units=8,batch_size=6,epochs=2",
                         "--output-dir", str(run_dir), *SHORT)
    assert code == 0, err
    assert "Resuming" in out and runs.completed_epochs(run_dir) == 2

    # Evaluation reads the folder again: an empty class folder added to train/ only is refused.
    (folder / "train" / "zebra").mkdir()
    code, out, err = cli("evaluate", str(run_dir), "--json")
    assert code != 0 and "class folders of" in err and "zebra" in err
    (folder / "train" / "zebra").rmdir()
    code, out, err = cli("evaluate", str(run_dir), "--json")
    assert code == 0, err
    results = json.loads(out)
    assert results["weights"] == "binarynet_weights.h5" and 0 <= results["accuracy"] <= 1

    if importlib.util.find_spec("larq_compute_engine") is None:
        pytest.skip("export needs the [lce] extra")
    output = tmp_path / "shapes.tflite"
    code, out, err = cli("export", str(run_dir), "-o", str(output), "--check-examples", "9")
    assert code == 0, err
    meta = metadata.read_metadata(output.read_bytes())
    assert meta["classes"] == ["bar", "circle", "square"] and meta["num_classes"] == 3


@pytest.mark.slow
def test_a_changed_class_list_does_not_resume(folder, tmp_path, cli):
    run_dir = tmp_path / "run"
    args = ("train", "binarynet", "--dataset", str(folder), "--hparams-set", "bop",
            "--hparams", "filters=4,dense_units=8,batch_size=6,epochs=1",
            "--output-dir", str(run_dir), *SHORT)
    assert cli(*args)[0] == 0
    for split, count in (("train", 2), ("val", 1)):
        (folder / split / "disc").mkdir()
        for i in range(count):
            (folder / split / "disc" / f"{i}.png").write_bytes(
                tf.io.encode_png(draw("circle", i, 32)).numpy())
    before = (run_dir / runs.RUN_FILE).read_text()
    code, out, err = cli(*args)
    assert code == 2 and "different classes" in err and len(err.strip().splitlines()) == 1
    assert (run_dir / runs.RUN_FILE).read_text() == before


def corrupt(folder):
    bad = folder / "train" / "circle" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a picture" * 10)
    return bad


@pytest.mark.parametrize("case", ["no_train", "no_val", "empty_class", "mismatch",
                                  "corrupt", "not_an_image"])
def test_bad_folders_are_one_line_errors_and_write_nothing(folder, tmp_path, cli, case):
    if case == "no_train":
        (folder / "train").rename(tmp_path / "elsewhere")
        expected = "has no train/ folder"
    elif case == "no_val":
        (folder / "val").rename(tmp_path / "elsewhere")
        expected = "has no val/ folder"
    elif case == "empty_class":
        for f in (folder / "val" / "bar").iterdir():
            f.unlink()
        (folder / "val" / "bar" / "notes.txt").write_text("no images here")
        expected = f"class folder {folder / 'val' / 'bar'} has no JPEG or PNG images"
    elif case == "mismatch":
        (folder / "val" / "circle").rename(folder / "val" / "disc")
        expected = "only in train/: circle; only in val/: disc"
    elif case == "corrupt":
        expected = f"cannot read image {corrupt(folder)}"
    else:
        bad = folder / "val" / "square" / "text.jpg"
        bad.write_text("a text file named like a picture")
        expected = f"cannot read image {bad}"
    out_dir = tmp_path / "run"
    code, out, err = cli("train", "binarynet", "--dataset", str(folder), "--hparams",
                         TINY, "--output-dir", str(out_dir), *SHORT)
    assert code == 2 and expected in err and "Traceback" not in err
    assert err.startswith("Error: ") and len(err.strip().splitlines()) == 1
    assert not out_dir.exists()


@pytest.mark.slow
def test_skip_bad_images_leaves_them_out_and_says_how_many(folder, tmp_path, cli):
    corrupt(folder)
    (folder / "val" / "bar" / "empty.jpg").write_bytes(b"")
    code, out, err = cli("train", "binarynet", "--dataset", str(folder), "--hparams", TINY,
                         "--output-dir", str(tmp_path / "run"), "--skip-bad-images", *SHORT)
    assert code == 0, err
    assert "Skipped 2 unreadable images" in out
    ds = data.load(str(folder), skip_bad_images=True)
    assert (ds.skipped, ds.train_examples, ds.test_examples) == (2, 18, 9)


def test_large_folders_check_file_headers_and_skip_while_reading(tmp_path):
    root = make_folder(tmp_path / "big", size=80, per_class=2)
    folders.CACHE_BYTES, old = 0, folders.CACHE_BYTES  # as if too big to cache
    try:
        # Begins as a JPEG, is not one: found only while reading, then skipped.
        (root / "val" / "bar" / "late.jpg").write_bytes(b"\xff\xd8\xff" + b"\0" * 100)
        bad = root / "train" / "bar" / "bad.png"
        bad.write_bytes(b"GIF89a")
        with pytest.raises(BnnoError, match=f"cannot read image {bad}"):
            data.load(str(root))
        ds = data.load(str(root), skip_bad_images=True, image_size=32)
        assert not ds.cached and ds.skipped == 1
        images = np.concatenate([x.numpy() for x, _ in ds.test(4, "default")])
        assert images.shape == (9, 32, 32, 3)  # 10 files, the late one dropped
    finally:
        folders.CACHE_BYTES = old


@pytest.mark.slow
def test_fashion_mnist_by_name_trains(tmp_path, cli, mock_data_dir):
    write_mock_metadata(mock_data_dir, "fashion_mnist", MOCK_EXAMPLES)
    ds = data.describe("fashion_mnist", mock_data_dir)
    assert (ds.input_shape, ds.num_classes) == ((28, 28, 1), 10)
    with tfds.testing.mock_data(num_examples=MOCK_EXAMPLES, data_dir=mock_data_dir):
        code, out, err = cli("train", "binarynet", "--dataset", "fashion_mnist", "--hparams",
                             TINY, "--data-dir", mock_data_dir,
                             "--output-dir", str(tmp_path / "run"), *SHORT)
    assert code == 0, err
    assert runs.read(tmp_path / "run")["data"]["dataset"] == "fashion_mnist"


def test_a_dataset_without_test_split_evaluates_on_validation(mock_data_dir):
    write_mock_metadata(mock_data_dir, "fashion_mnist", MOCK_EXAMPLES, ("train", "validation"))
    try:
        assert data.load("fashion_mnist", mock_data_dir).test_split == "validation"
    finally:
        write_mock_metadata(mock_data_dir, "fashion_mnist", MOCK_EXAMPLES)


@pytest.mark.parametrize("name, message", [
    ("no_such_dataset", "list them with: python -c \"import tensorflow_datasets as tfds; "
                        "print(tfds.list_builders())\""),
    ("wine_quality", "is not an image-classification dataset"),
    ("./nowhere", "does not exist"),
])
def test_unknown_datasets_are_one_line_errors(cli, name, message):
    code, out, err = cli("train", "binarynet", "--dataset", name)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_image_size_is_refused_for_fixed_size_datasets(cli):
    code, out, err = cli("train", "binarynet", "--dataset", "cifar10", "--hparams",
                         "image_size=64")
    assert code == 2 and "leave image_size out" in err


def test_a_folder_imagenet_plans_as_imagenet2012(tmp_path):
    from bnno.config import plan

    root = make_folder(tmp_path / "imagenet", size=80, per_class=1)
    for model, set_name in (("birealnet", "bop"), ("bnext_t", "imagenet"),
                            ("sibnn_resnet18", "sibnn")):
        folder, tfds = plan(model, str(root), set_name), plan(model, "imagenet2012", set_name)
        assert folder.data.preprocess_fn == tfds.data.preprocess_fn
        assert (folder.model, folder.optimizer, folder.trainer) == (
            tfds.model, tfds.optimizer, tfds.trainer)
        assert folder.data.input_shape == (224, 224, 3)
    with pytest.raises(BnnoError, match=r"cannot use; .*--preprocess-fn \(bnext, default, ") \
            as error:
        plan("binarynet", str(root), "bop")  # its set pads and crops 32×32 images
    assert "resize_and_flip" not in str(error.value).split("--preprocess-fn")[1]


def test_landscape_batches_of_a_folder_come_from_every_class(tmp_path):
    from bnno.analysis.landscape import fixed_batches

    # 100 images per class, listed class by class: the first 10·n examples of n = 8
    # would all be "bar"; the batches are drawn from the whole folder instead.
    ds = data.load(str(make_folder(tmp_path / "many", per_class=100)))
    _, y = fixed_batches(ds, "default", 2, 4, seed=0)
    assert len(set(y.argmax(axis=1))) > 1
