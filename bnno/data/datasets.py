"""Datasets through TensorFlow Datasets: finding, preparing and reading them.

``load`` finds a prepared tfds dataset in the usual tfds data dir (``--data-dir`` or
``TFDS_DATA_DIR``), downloading and preparing it when the network allows, or from
archives in a tfds ``manual_dir`` (ImageNet: the downloaded ``ILSVRC2012_img_train.tar``
and ``ILSVRC2012_img_val.tar``).

Small datasets (CIFAR, MNIST) are decoded once and cached in memory. ImageNet is read
as JPEG bytes and decoded and cropped in one step per image by Larq Zoo's ImageNet
preprocessing (``tf.image.decode_and_crop_jpeg``), which never decodes the pixels it
would crop away.

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

from bnno.data.preprocessing import JPEG_PREPROCESS, PREPROCESS
from bnno.errors import BnnoError, choices

# Name users type -> (tfds name, training split, evaluation split, encoded).
# "encoded" datasets are read as JPEG bytes (tfds SkipDecoding) and preprocessed by
# the JPEG functions; the others as decoded uint8 images.
DATASETS: dict[str, tuple[str, str, str, bool]] = {
    "cifar10": ("cifar10", "train", "test", False),
    "cifar100": ("cifar100", "train", "test", False),
    "mnist": ("mnist", "train", "test", False),
    "imagenet2012": ("imagenet2012", "train", "validation", True),
}

_SHUFFLE_BUFFER = 60_000
# Decoded examples are cached in memory when the prepared dataset is at most this big.
_CACHE_BYTES = 2 * 1024**3



def preprocess_fns(dataset: str) -> dict[str, Callable]:
    """The preprocessing functions that dataset ``dataset`` can use.

    Example:
        >>> sorted(preprocess_fns("imagenet2012"))
        ['bnext', 'default', 'sibnn']
    """
    return JPEG_PREPROCESS if DATASETS[dataset][3] else PREPROCESS


def check_names(dataset: str, preprocess: str) -> None:
    """Raise ``BnnoError`` for an unknown dataset or preprocessing name.

    Example:
        >>> check_names("cifar10", "resize_and_flip")
    """
    if dataset not in DATASETS:
        raise BnnoError(f"unknown dataset '{dataset}'; choose one of: {choices(DATASETS)}")
    fns = preprocess_fns(dataset)
    if preprocess not in fns:
        raise BnnoError(
            f"unknown preprocess fn '{preprocess}' for {dataset}; choose one of: {choices(fns)}"
        )


@dataclass
class Dataset:
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

    @property
    def input_shape(self) -> tuple[int, ...]:
        if self.encoded:  # images of any size, cropped to Larq Zoo's 224×224
            from larq_zoo.training.data import IMAGE_SIZE

            return (IMAGE_SIZE, IMAGE_SIZE, 3)
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

    @staticmethod
    def _options(ds):
        import tensorflow as tf

        # The per-epoch pipeline hides the files from tf.data's file-based sharding;
        # multi-worker training shards the elements instead (or, with ``shard``, the
        # pipeline shards itself before decoding).
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA
        )
        return ds.with_options(options)

    def train(
        self,
        batch_size: int,
        preprocess: str,
        seed: int,
        first_epoch: int,
        epochs: int,
        steps_per_epoch: int | None = None,
        shard: tuple[int, int] | None = None,
    ):
        """Batches for epochs ``first_epoch .. epochs-1``, one epoch after another.

        Each epoch is shuffled and augmented from (seed, epoch) alone and holds
        ``steps_per_epoch`` full batches (default: all full batches of the split).
        With ``shard=(n, i)`` this pipeline keeps every n-th example of each shuffled
        epoch from the i-th on, before preprocessing: n workers then decode disjoint
        parts of the same epoch (``batch_size`` and ``steps_per_epoch`` are then this
        pipeline's own).

        Example:
            Epochs 10 to 99 of a run of CIFAR-10 resumed after its tenth epoch::

                load("cifar10").train(batch_size=100, preprocess="resize_and_flip",
                                      seed=1, first_epoch=10, epochs=100)
        """
        import tensorflow as tf

        fn = preprocess_fns(self.name)[preprocess]
        examples = self._examples(self.train_split)
        shards, index = shard or (1, 0)
        steps = steps_per_epoch or self.train_examples // (batch_size * shards)
        buffer = min(self.train_examples or _SHUFFLE_BUFFER, _SHUFFLE_BUFFER)

        def one_epoch(epoch):
            # The order is a function of (seed, epoch) alone. Without this, tf.data mixes
            # the global seed in, and a global seed of 0 makes TF compare the symbolic
            # epoch seed with 0 in Python, which fails (--seed 0). This sets the seed of
            # this traced function's graph only; the global seed is untouched.
            tf.compat.v1.set_random_seed(None)
            ds = examples.shuffle(
                buffer, seed=seed * 1_000_003 + epoch, reshuffle_each_iteration=False
            ).enumerate()
            if shards > 1:
                ds = ds.shard(shards, index)

            def augment(i, example):
                image, label = example
                element_seed = tf.stack([tf.cast(seed, tf.int64), epoch * 10_000_019 + i])
                return fn(image, True, element_seed), label

            ds = ds.map(augment, num_parallel_calls=tf.data.AUTOTUNE)
            return ds.batch(batch_size, drop_remainder=True).take(steps)

        epochs_ds = tf.data.Dataset.range(first_epoch, epochs)
        return self._options(epochs_ds.flat_map(one_epoch).prefetch(tf.data.AUTOTUNE))

    def test(self, batch_size: int, preprocess: str, steps: int | None = None,
             drop_remainder: bool = False):
        """Unaugmented evaluation batches; all examples unless ``steps`` limits them.

        ``drop_remainder`` leaves out the last partial batch (multi-worker evaluation
        needs the same number of full batches on every worker).

        Example:
            The first 10 evaluation batches of 256 CIFAR-10 images::

                load("cifar10").test(batch_size=256, preprocess="default", steps=10)
        """
        import tensorflow as tf

        fn = preprocess_fns(self.name)[preprocess]
        ds = self._examples(self.test_split).map(
            lambda image, label: (fn(image, False, None), label),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
        if steps:
            ds = ds.take(steps)
        return self._options(ds.prefetch(tf.data.AUTOTUNE))


def describe(name: str, data_dir: str | None = None) -> Dataset:
    """Dataset ``name`` with its shape and classes, prepared or not (no data is read).

    Example:
        >>> import tempfile
        >>> describe("cifar10", data_dir=tempfile.mkdtemp()).input_shape
        (32, 32, 3)
    """
    import tensorflow_datasets as tfds

    if name not in DATASETS:
        raise BnnoError(f"unknown dataset '{name}'; choose one of: {choices(DATASETS)}")
    tfds_name, train_split, test_split, encoded = DATASETS[name]
    data_dir = os.path.expanduser(data_dir) if data_dir else None
    return Dataset(name, tfds.builder(tfds_name, data_dir=data_dir), train_split, test_split,
                   encoded)


def load(name: str, data_dir: str | None = None, manual_dir: str | None = None) -> Dataset:
    """Find (or download and prepare) dataset ``name`` the way tfds does.

    Args:
        name: a key of ``DATASETS``.
        data_dir: tfds data dir; defaults to ``TFDS_DATA_DIR`` or ``~/tensorflow_datasets``.
        manual_dir: folder holding manually downloaded archives (tfds ``manual_dir``).

    Raises:
        BnnoError: unknown name, or data missing and not obtainable; the message says
            where tfds looked and how to point at local data.

    Example:
        ImageNet prepared from the two archives downloaded into ``~/imagenet``::

            load("imagenet2012", manual_dir="~/imagenet").train_examples  # 1281167
    """
    dataset = describe(name, data_dir)
    if not dataset.builder.data_path.joinpath("dataset_info.json").exists():
        _prepare(dataset.builder, name, manual_dir)
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
