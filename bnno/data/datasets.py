"""Datasets: any tfds image-classification dataset by name, or a folder of images.

``load`` finds a prepared tfds dataset in the usual tfds data dir (``--data-dir`` or
``TFDS_DATA_DIR``), downloading and preparing it when the network allows, or from
archives in a tfds ``manual_dir`` (ImageNet: the downloaded ``ILSVRC2012_img_train.tar``
and ``ILSVRC2012_img_val.tar``). Any tfds dataset with an ``image`` and a ``label``
feature can be named; its shapes, classes and splits come from the builder's info, and
it is evaluated on its ``test`` split, else its ``validation`` split. A path instead of
a name is a folder of images (``bnno.data.folders``).

Small datasets (CIFAR, MNIST) are decoded once and cached in memory. Datasets of images
of any size (ImageNet) are read as encoded bytes and decoded and cropped in one step per
image by Larq Zoo's ImageNet preprocessing (``tf.image.decode_and_crop_jpeg``), which
never decodes the pixels it would crop away.

The training pipeline makes the order and augmentation of every epoch a pure function
of (seed, epoch): a run resumed at epoch k sees exactly the batches an uninterrupted run
would have seen in epoch k.

Example:
    CIFAR-10 from a tfds data dir, and its training batches of 100 for 100 epochs::

        ds = load("cifar10", data_dir="~/tensorflow_datasets")
        train = ds.train(batch_size=100, preprocess="resize_and_flip", seed=1,
                         first_epoch=0, epochs=100)
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import bnno.data.registry as registry
from bnno.data.folders import FolderDataset, is_folder
from bnno.data.pipeline import Pipelines
from bnno.errors import BnnoError, choices

# Datasets bnno's recipes are written for: name users type -> (tfds name, training
# split, evaluation split, encoded). Any other tfds image-classification dataset works
# too (see ``describe``). "encoded" datasets are read as JPEG bytes (tfds SkipDecoding)
# and preprocessed by the JPEG functions; the others as decoded uint8 images.
DATASETS: dict[str, tuple[str, str, str, bool]] = {
    "cifar10": ("cifar10", "train", "test", False),
    "cifar100": ("cifar100", "train", "test", False),
    "mnist": ("mnist", "train", "test", False),
    "imagenet2012": ("imagenet2012", "train", "validation", True),
}

# Decoded examples are cached in memory when the prepared dataset is at most this big.
_CACHE_BYTES = 2 * 1024**3

LIST_HINT = ('list them with: python -c "import tensorflow_datasets as tfds; '
             'print(tfds.list_builders())"')


def preprocess_fns(dataset: str, data_dir: str | None = None) -> dict[str, Callable]:
    """The preprocessing functions that dataset ``dataset`` (a name or a folder) can use.

    Example:
        >>> {"bnext", "default", "sibnn"} <= set(preprocess_fns("imagenet2012"))
        True
        >>> "resize_and_flip" in preprocess_fns("imagenet2012")  # for decoded images only
        False
    """
    return describe(dataset, data_dir).preprocess_fns


def preprocess_names() -> list[str]:
    """Every preprocessing function's name, of decoded and of encoded images.

    Example:
        >>> {"default", "resize_and_flip", "bnext"} <= set(preprocess_names())
        True
    """
    return registry.names()


def check_names(dataset: str, preprocess: str) -> None:
    """Raise ``BnnoError`` for an unknown dataset or preprocessing name.

    Example:
        >>> check_names("cifar10", "resize_and_flip")
    """
    describe(dataset).preprocess_fn(preprocess)


@dataclass
class Dataset(Pipelines):
    """An image-classification dataset from tfds and its pipelines.

    Example:
        >>> import tempfile
        >>> ds = describe("mnist", data_dir=tempfile.mkdtemp())  # nothing prepared there
        >>> ds.input_shape, ds.num_classes
        ((28, 28, 1), 10)

        Once prepared (``load``), the dataset also gives its example counts and pipelines::

            ds = load("mnist")
            ds.train_examples  # 60000
            test = ds.test(batch_size=256, preprocess="default")
    """

    name: str
    builder: Any
    train_split: str
    test_split: str
    encoded: bool = False
    # Side of the square crops of encoded images (the ``image_size`` hparam).
    image_size: int | None = None

    @property
    def input_shape(self) -> tuple[int, ...]:
        if self.encoded:  # images of any size, cropped to Larq Zoo's 224×224 by default
            from bnno.data.preprocessing import IMAGENET_SIZE

            size = self.image_size or IMAGENET_SIZE
            return (size, size, 3)
        return tuple(self.builder.info.features["image"].shape)

    @property
    def num_classes(self) -> int:
        return self.builder.info.features["label"].num_classes

    @property
    def train_examples(self) -> int:
        return self.builder.info.splits[self.train_split].num_examples

    @property
    def test_examples(self) -> int:
        return self.builder.info.splits[self.test_split].num_examples

    def _examples(self, split: str):
        import tensorflow as tf
        import tensorflow_datasets as tfds

        decoders = {"image": tfds.decode.SkipDecoding()} if self.encoded else None
        ds = self.builder.as_dataset(split=split, shuffle_files=False, decoders=decoders)
        ds = ds.map(
            lambda ex: (ex["image"], tf.one_hot(ex["label"], self.num_classes)),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        # Only what fits in memory is cached; ImageNet is read from disk every epoch.
        size = self.builder.info.dataset_size or 0
        return ds if self.encoded or size > _CACHE_BYTES else ds.cache()


def describe(name: str, data_dir: str | None = None, image_size: int | None = None,
             classes: list[str] | None = None, skip_bad_images: bool = False):
    """Dataset ``name`` with its shape and classes, prepared or not (no data is read).

    ``name`` is a tfds name or a folder of images (see ``bnno.data.folders``; a folder
    is scanned, and ``classes`` and ``skip_bad_images`` apply to it). ``image_size`` is
    the side of the square images of datasets whose images have any size.

    Raises:
        BnnoError: no such tfds dataset, not an image-classification dataset, a bad
            folder, or an ``image_size`` for a dataset of fixed-size images.

    Example:
        >>> import tempfile
        >>> describe("cifar10", data_dir=tempfile.mkdtemp()).input_shape
        (32, 32, 3)
        >>> describe("imagenet2012", image_size=128).input_shape
        (128, 128, 3)
    """
    if is_folder(name):
        return FolderDataset.scan(name, image_size, classes, skip_bad_images)
    import tensorflow_datasets as tfds

    data_dir = os.path.expanduser(data_dir) if data_dir else None
    if name in DATASETS:
        tfds_name, train_split, test_split, encoded = DATASETS[name]
        builder = tfds.builder(tfds_name, data_dir=data_dir)
    else:
        builder = _builder(name, data_dir)
        # Splits are known once the dataset is prepared (``load``).
        train_split, test_split = "train", "test"
        encoded = None in builder.info.features["image"].shape[:2]
    if image_size is not None and not encoded:
        shape = tuple(builder.info.features["image"].shape)
        raise BnnoError(
            f"image_size applies to image folders and datasets of images of any size; "
            f"{name}'s images are all {shape[0]}x{shape[1]}: leave image_size out"
        )
    return Dataset(name, builder, train_split, test_split, encoded, image_size)


def _builder(name: str, data_dir: str | None):
    """The tfds builder of ``name``, checked to be an image-classification dataset."""
    import tensorflow_datasets as tfds

    unknown = (f"unknown dataset '{name}'; give a tfds image-classification dataset "
               f"({choices(DATASETS)}, fashion_mnist, svhn_cropped, ...; {LIST_HINT}) or a "
               "folder with train/ and val/ subfolders")
    if name.startswith("_") or not name.replace("/", "").replace(":", "").replace(
            ".", "").replace("_", "").isalnum():
        raise BnnoError(unknown)
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception:  # tfds raises DatasetNotFoundError, or others for a bad config name
        raise BnnoError(unknown) from None
    features = builder.info.features
    keys = set(features.keys()) if hasattr(features, "keys") else set()
    image, label = (features[k] if k in keys else None for k in ("image", "label"))
    if (not isinstance(image, tfds.features.Image)
            or not isinstance(label, tfds.features.ClassLabel)):
        raise BnnoError(
            f"tfds dataset '{name}' is not an image-classification dataset (it needs an "
            f"'image' and a 'label' feature); {LIST_HINT}"
        )
    return builder


def load(name: str, data_dir: str | None = None, manual_dir: str | None = None,
         image_size: int | None = None, classes: list[str] | None = None,
         skip_bad_images: bool = False):
    """Find (or download and prepare) dataset ``name`` the way tfds does, or read a folder.

    Args:
        name: a tfds name (a key of ``DATASETS`` or any tfds image-classification
            dataset), or a folder of images (``bnno.data.folders``).
        data_dir: tfds data dir; defaults to ``TFDS_DATA_DIR`` or ``~/tensorflow_datasets``.
        manual_dir: folder holding manually downloaded archives (tfds ``manual_dir``).
        image_size: side of the square images of datasets whose images have any size.
        classes: a folder's classes in the order of a run that trained on them.
        skip_bad_images: a folder's unreadable images are left out instead of refused.

    Raises:
        BnnoError: unknown name, bad folder, or data missing and not obtainable; the
            message says where tfds looked and how to point at local data.

    Example:
        ImageNet prepared from the two archives downloaded into ``~/imagenet``::

            load("imagenet2012", manual_dir="~/imagenet").train_examples  # 1281167
    """
    dataset = describe(name, data_dir, image_size, classes, skip_bad_images)
    if isinstance(dataset, FolderDataset):
        dataset.check_images()
        return dataset
    if not dataset.builder.data_path.joinpath("dataset_info.json").exists():
        _prepare(dataset.builder, name, manual_dir)
    if name not in DATASETS:
        splits = dataset.builder.info.splits
        test_split = next((s for s in ("test", "validation") if s in splits), None)
        if "train" not in splits or test_split is None:
            raise BnnoError(
                f"tfds dataset '{name}' needs a 'train' split and a 'test' or 'validation' "
                f"split; it has: {choices(splits)}"
            )
        dataset.test_split = test_split
    return dataset


def _prepare(builder, name: str, manual_dir: str | None) -> None:
    import tensorflow_datasets as tfds

    where = os.path.dirname(os.path.dirname(str(builder.data_path)))
    hint = (
        f"dataset '{name}' is not prepared in {where} ({builder.data_path} is missing) "
        f"and {{why}}; pass --data-dir DIR (or set TFDS_DATA_DIR) to a tfds data dir that "
        f"holds {builder.name}/{builder.version}, or --manual-dir DIR with the downloaded "
        "archives"
    )
    # A manual_dir only helps datasets that read one (ImageNet); the rest download.
    uses_manual_dir = manual_dir and getattr(builder, "MANUAL_DOWNLOAD_INSTRUCTIONS", None)
    if not uses_manual_dir and not _online(builder.info.homepage):
        raise BnnoError(hint.format(why="there is no network to download it"))
    config = tfds.download.DownloadConfig(manual_dir=manual_dir)
    try:
        builder.download_and_prepare(download_config=config)
    except Exception as e:  # tfds raises many kinds; all mean the same to the user
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise BnnoError(hint.format(why=f"preparing it failed ({reason[:200]})")) from None


def _online(url: str) -> bool:
    """Can the dataset's web host be reached? A quick no-network check: without it tfds
    retries each download for minutes before failing."""
    host = urlparse(url or "").hostname or "www.tensorflow.org"
    try:
        socket.create_connection((host, 443), timeout=5).close()
    except OSError:
        return False
    return True
