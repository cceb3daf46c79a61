"""Datasets through TensorFlow Datasets, and the preprocessing functions users name.

``load`` finds a prepared tfds dataset in the usual tfds data dir (``--data-dir`` or
``TFDS_DATA_DIR``), downloading and preparing it when the network allows, or from
archives in a tfds ``manual_dir``.

The training pipeline makes the order and augmentation of every epoch a pure function
of (seed, epoch): a run resumed at epoch k sees exactly the batches an uninterrupted run
would have seen in epoch k.

Example:
    >>> ds = load("cifar10", data_dir="~/tensorflow_datasets")  # doctest: +SKIP
    >>> train = ds.train(batch_size=100, preprocess="resize_and_flip", seed=1,
    ...                  first_epoch=0, epochs=100)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from bnno.errors import BnnoError, choices

# Name users type -> (tfds name, training split, evaluation split).
DATASETS: dict[str, tuple[str, str, str]] = {
    "cifar10": ("cifar10", "train", "test"),
    "mnist": ("mnist", "train", "test"),
}

_SHUFFLE_BUFFER = 60_000


def _scale(image):
    """uint8 [0, 255] -> float32 [-1, 1], as the Bop paper's code does."""
    import tensorflow as tf

    return tf.cast(image, tf.float32) / (255.0 / 2.0) - 1.0


def default(image, training: bool, seed) -> Any:
    """Scale pixels to [-1, 1]; no augmentation.

    Example:
        >>> default(tf.constant([[[0, 255, 51]]], tf.uint8), True, None)  # doctest: +SKIP
        <tf.Tensor: ... numpy=array([[[-1. ,  1. , -0.6]]], dtype=float32)>
    """
    return _scale(image)


def resize_and_flip(image, training: bool, seed) -> Any:
    """Training: pad 4 pixels per side, random crop back, random flip; then scale.

    For CIFAR-10 this is the paper's pad to 40×40 and random 32×32 crop. Evaluation
    images are only scaled. ``seed`` is a shape-[2] integer tensor; the stateless ops
    make the augmentation reproducible.

    Example:
        >>> resize_and_flip(image, True, tf.constant([1, 2], tf.int64))  # doctest: +SKIP
    """
    import tensorflow as tf

    if training:
        h, w, c = image.shape
        image = tf.image.resize_with_crop_or_pad(image, h + 8, w + 8)
        image = tf.image.stateless_random_crop(image, [h, w, c], seed=seed)
        image = tf.image.stateless_random_flip_left_right(image, seed=seed[::-1])
    return _scale(image)


PREPROCESS: dict[str, Callable] = {"default": default, "resize_and_flip": resize_and_flip}


def check_names(dataset: str, preprocess: str) -> None:
    """Raise ``BnnoError`` for an unknown dataset or preprocessing name.

    Example:
        >>> check_names("cifar10", "resize_and_flip")
    """
    if dataset not in DATASETS:
        raise BnnoError(f"unknown dataset '{dataset}'; choose one of: {choices(DATASETS)}")
    if preprocess not in PREPROCESS:
        raise BnnoError(
            f"unknown preprocess fn '{preprocess}'; choose one of: {choices(PREPROCESS)}"
        )


@dataclass
class Dataset:
    """An image-classification dataset from tfds and its pipelines.

    Example:
        >>> ds = load("mnist")  # doctest: +SKIP
        >>> ds.input_shape, ds.num_classes, ds.train_examples  # doctest: +SKIP
        ((28, 28, 1), 10, 60000)
        >>> test = ds.test(batch_size=256, preprocess="default")  # doctest: +SKIP
    """

    name: str
    builder: Any
    train_split: str
    test_split: str

    @property
    def input_shape(self) -> tuple[int, ...]:
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

        ds = self.builder.as_dataset(split=split, shuffle_files=False)
        return ds.map(
            lambda ex: (ex["image"], tf.one_hot(ex["label"], self.num_classes)),
            num_parallel_calls=tf.data.AUTOTUNE,
        ).cache()

    def train(
        self,
        batch_size: int,
        preprocess: str,
        seed: int,
        first_epoch: int,
        epochs: int,
        steps_per_epoch: int | None = None,
    ):
        """Batches for epochs ``first_epoch .. epochs-1``, one epoch after another.

        Each epoch is shuffled and augmented from (seed, epoch) alone and holds
        ``steps_per_epoch`` full batches (default: all full batches of the split).
        """
        import tensorflow as tf

        fn = PREPROCESS[preprocess]
        examples = self._examples(self.train_split)
        steps = steps_per_epoch or self.train_examples // batch_size
        buffer = min(self.train_examples or _SHUFFLE_BUFFER, _SHUFFLE_BUFFER)

        def one_epoch(epoch):
            ds = examples.shuffle(
                buffer, seed=seed * 1_000_003 + epoch, reshuffle_each_iteration=False
            ).enumerate()

            def augment(i, example):
                image, label = example
                element_seed = tf.stack([tf.cast(seed, tf.int64), epoch * 10_000_019 + i])
                return fn(image, True, element_seed), label

            ds = ds.map(augment, num_parallel_calls=tf.data.AUTOTUNE)
            return ds.batch(batch_size, drop_remainder=True).take(steps)

        epochs_ds = tf.data.Dataset.range(first_epoch, epochs)
        return epochs_ds.flat_map(one_epoch).prefetch(tf.data.AUTOTUNE)

    def test(self, batch_size: int, preprocess: str, steps: int | None = None):
        """Unaugmented evaluation batches; all examples unless ``steps`` limits them."""
        import tensorflow as tf

        fn = PREPROCESS[preprocess]
        ds = self._examples(self.test_split).map(
            lambda image, label: (fn(image, False, None), label),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        ds = ds.batch(batch_size)
        if steps:
            ds = ds.take(steps)
        return ds.prefetch(tf.data.AUTOTUNE)


def describe(name: str, data_dir: str | None = None) -> Dataset:
    """Dataset ``name`` with its shape and classes, prepared or not (no data is read).

    Example:
        >>> describe("cifar10").input_shape  # doctest: +SKIP
        (32, 32, 3)
    """
    import tensorflow_datasets as tfds

    if name not in DATASETS:
        raise BnnoError(f"unknown dataset '{name}'; choose one of: {choices(DATASETS)}")
    tfds_name, train_split, test_split = DATASETS[name]
    data_dir = os.path.expanduser(data_dir) if data_dir else None
    return Dataset(name, tfds.builder(tfds_name, data_dir=data_dir), train_split, test_split)


def load(name: str, data_dir: str | None = None, manual_dir: str | None = None) -> Dataset:
    """Find (or download and prepare) dataset ``name`` the way tfds does.

    Args:
        name: a key of ``DATASETS``.
        data_dir: tfds data dir; defaults to ``TFDS_DATA_DIR`` or ``~/tensorflow_datasets``.
        manual_dir: folder holding manually downloaded archives (tfds ``manual_dir``).

    Raises:
        BnnoError: unknown name, or data missing and not obtainable; the message says
            where tfds looked and how to point at local data.
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
