"""Datasets read from folders of images: the torchvision ``ImageFolder`` / timm layout.

``--dataset PATH`` names a folder with ``train/`` and ``val/`` (or ``validation/``),
each holding one subfolder of JPEG or PNG images per class (searched recursively)::

    PATH/train/cat/0001.jpg   PATH/train/dog/0002.png   ...
    PATH/val/cat/0101.jpg     PATH/val/dog/0102.png     ...

The classes are the sorted subfolder names; a run records them, so that evaluation and
export keep the run's order even if folders are added or removed later.

Folders of small images (at most 64 pixels a side, judged by the first training image)
are read like CIFAR: decoded (all images resized to the first one's size, or to the
``image_size`` hparam), cached in memory when they fit, and preprocessed by the functions
for decoded images (``resize_and_flip``, ...). Folders of larger images are read like
ImageNet: as encoded bytes, decoded and cropped to ``image_size`` (default 224) by the
functions for JPEG bytes (``default`` is Larq Zoo's ImageNet preprocessing, ``bnext``,
``sibnn``); PNG files are re-encoded as JPEG first. A folder ImageNet thus trains as
``imagenet2012`` does.

Every image of a small folder is decoded once before training; of a large folder, the
first bytes of every file are checked. An unreadable image is refused by name, or with
``skip_bad_images`` left out and counted (``FolderDataset.skipped``).

Example:
    A folder of two classes of 40×40 PNGs, described without reading it::

        ds = FolderDataset.scan("~/shapes")
        ds.classes, ds.input_shape  # (['circle', 'square'], (40, 40, 3))
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path

from bnno.data.pipeline import Pipelines
from bnno.errors import BnnoError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
# Images up to this many pixels a side are "small": decoded and preprocessed like CIFAR.
SMALL_SIDE = 64
# Examples are cached in memory (decoded, or as bytes) when they take at most this much.
CACHE_BYTES = 2 * 1024**3
LAYOUT = "an image folder needs train/ and val/ (or validation/), each with one subfolder of "\
         "JPEG/PNG images per class"
_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")


def is_folder(name: str) -> bool:
    """Does ``--dataset name`` name a folder (a path) rather than a tfds dataset?

    An existing path is a folder, and so is a name starting with ``/``, ``~`` or ``.``
    (tfds names such as ``cifar10_corrupted/brightness_1`` hold a ``/`` too).

    Example:
        >>> is_folder("~/imagenet"), is_folder("./shapes"), is_folder("cifar10")
        (True, True, False)
    """
    return name.startswith(("/", os.sep, "~", ".")) or os.path.exists(name)


def _images(folder: Path) -> list[str]:
    """The JPEG and PNG files under ``folder``, sorted (hidden files and folders left out)."""
    found = []
    for top, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [os.path.join(top, f) for f in sorted(files)
                  if f.lower().endswith(IMAGE_EXTENSIONS) and not f.startswith(".")]
    return found


def _class_folders(split: Path) -> list[str]:
    return sorted(d.name for d in split.iterdir() if d.is_dir() and not d.name.startswith("."))


def _listing(names: list[str]) -> str:
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _decodes(path: str) -> tuple[int, ...] | None:
    """The shape of image ``path``, or None when it cannot be read or decoded."""
    import tensorflow as tf

    try:
        image = tf.io.decode_image(tf.io.read_file(path), expand_animations=False)
    except (tf.errors.OpError, ValueError):
        return None
    return tuple(image.shape)


class FolderDataset(Pipelines):
    """A dataset of class subfolders of images (see the module), with the pipelines of
    every bnno dataset.

    Example:
        A small folder written on the spot: two classes of three 8×8 PNGs each.

        >>> import tempfile, numpy as np, tensorflow as tf
        >>> root = Path(tempfile.mkdtemp())
        >>> for split in ("train", "val"):
        ...     for cls in ("b", "a"):
        ...         (root / split / cls).mkdir(parents=True)
        ...         for i in range(3):
        ...             png = tf.io.encode_png(np.full((8, 8, 3), i, np.uint8)).numpy()
        ...             _ = (root / split / cls / f"{i}.png").write_bytes(png)
        >>> ds = FolderDataset.scan(str(root))
        >>> ds.classes, ds.input_shape, ds.train_examples, ds.encoded
        (['a', 'b'], (8, 8, 3), 6, False)
    """

    def __init__(self, root: Path, classes: list[str], files: dict[str, list[tuple[str, int]]],
                 input_shape: tuple[int, int, int], encoded: bool, val_split: str,
                 skip_bad_images: bool = False) -> None:
        self.root = root
        self.name = str(root)
        self.classes = classes
        self.files = files
        self.input_shape = input_shape
        self.encoded = encoded
        self.train_split, self.test_split = "train", val_split
        self.skip_errors = skip_bad_images
        self.skipped = 0

    @classmethod
    def scan(cls, path: str, image_size: int | None = None, classes: list[str] | None = None,
             skip_bad_images: bool = False) -> FolderDataset:
        """List the folder at ``path``: its classes, files and image shape.

        ``classes`` are the class order of a run trained earlier: the folder's labels
        then index that list, and a class outside it is refused.

        Raises:
            BnnoError: no such folder, no ``train/`` or ``val/``, a class folder without
                images, different classes in ``train/`` and ``val/``, or an unreadable
                first image.
        """
        root = Path(os.path.expanduser(path)).resolve()
        if not root.is_dir():
            raise BnnoError(f"dataset folder {root} does not exist; {LAYOUT}")
        val = next((root / v for v in ("val", "validation") if (root / v).is_dir()), None)
        for split, where in (("train", root / "train"), ("val", val)):
            if where is None or not where.is_dir():
                raise BnnoError(f"{root} has no {split}/ folder; {LAYOUT}")
        found = {s: _class_folders(root / s) for s in ("train", val.name)}
        if not found["train"]:
            raise BnnoError(f"{root / 'train'} has no class folders; {LAYOUT}")
        only_train = sorted(set(found["train"]) - set(found[val.name]))
        only_val = sorted(set(found[val.name]) - set(found["train"]))
        if only_train or only_val:
            raise BnnoError(
                f"the class folders of {root / 'train'} and {val} differ (only in train/: "
                f"{_listing(only_train) or 'none'}; only in {val.name}/: "
                f"{_listing(only_val) or 'none'}); give both the same classes"
            )
        if classes is None:
            classes = found["train"]
        unknown = [c for c in found["train"] if c not in classes]
        if unknown:
            raise BnnoError(
                f"{root} has classes the run was not trained on ({_listing(unknown)}); the "
                f"run's classes are: {_listing(list(classes))}"
            )
        index = {c: i for i, c in enumerate(classes)}
        files = {}
        for split in found:
            files[split] = []
            for c in found[split]:
                images = _images(root / split / c)
                if not images:
                    raise BnnoError(f"class folder {root / split / c} has no JPEG or PNG "
                                    "images; add some or remove the folder")
                files[split] += [(f, index[c]) for f in images]
        shape = cls._first_shape(files["train"], skip_bad_images)
        if max(shape[:2]) <= SMALL_SIDE:
            channels = 1 if shape[2] in (1, 2) else 3
            input_shape = (image_size or shape[0], image_size or shape[1], channels)
            encoded = False
        else:
            input_shape, encoded = (image_size or 224, image_size or 224, 3), True
        return cls(root, list(classes), files, input_shape, encoded, val.name, skip_bad_images)

    @staticmethod
    def _first_shape(files: list[tuple[str, int]], skip_bad_images: bool) -> tuple[int, ...]:
        for path, _ in files:
            shape = _decodes(path)
            if shape is not None:
                return shape
            if not skip_bad_images:
                _refuse([path])
        raise BnnoError(f"no training image can be read; {LAYOUT}")

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def train_examples(self) -> int:
        return len(self.files[self.train_split])

    @property
    def test_examples(self) -> int:
        return len(self.files[self.test_split])

    @property
    def shuffle_buffer(self) -> int:
        # The files are listed class by class: every epoch shuffles all of them (the
        # buffer holds file names, or images already cached in memory).
        return max(self.train_examples, 1)

    @functools.cached_property
    def cached(self) -> bool:
        """Are the examples kept in memory after the first epoch?"""
        if self.encoded:
            total = sum(os.path.getsize(f) for split in self.files.values() for f, _ in split)
        else:
            total = len(self.files["train"]) + len(self.files[self.test_split])
            total *= self.input_shape[0] * self.input_shape[1] * self.input_shape[2]
        return total <= CACHE_BYTES

    def _adapt(self, fn: Callable) -> Callable:
        """``fn`` on what ``_examples`` yields (the image file's name when the examples are
        not cached)."""
        fn = super()._adapt(fn)
        if self.cached:
            return fn
        return lambda path, training, seed: fn(self._read(path), training, seed)

    def _read(self, path):
        """The bytes of image file ``path`` (large images) or its decoded pixels."""
        import tensorflow as tf

        data = tf.io.read_file(path)
        if self.encoded:
            return data
        h, w, c = self.input_shape
        image = tf.io.decode_image(data, channels=c, expand_animations=False)
        image = tf.cond(
            tf.reduce_all(tf.shape(image)[:2] == [h, w]), lambda: image,
            lambda: tf.cast(tf.round(tf.clip_by_value(tf.image.resize(
                image, [h, w], antialias=True), 0.0, 255.0)), tf.uint8))
        return tf.ensure_shape(image, [h, w, c])

    def _examples(self, split: str):
        import tensorflow as tf

        paths = [f for f, _ in self.files[split]]
        labels = [label for _, label in self.files[split]]
        ds = tf.data.Dataset.from_tensor_slices((paths, tf.one_hot(labels, self.num_classes)))
        if not self.cached:
            return ds
        ds = ds.map(lambda path, label: (self._read(path), label),
                    num_parallel_calls=tf.data.AUTOTUNE)
        return ds.cache()

    def check_images(self) -> None:
        """Refuse (or with ``skip_bad_images`` leave out and count) unreadable images.

        A cached folder's images are all decoded once; a larger folder's files are checked
        to begin as JPEG or PNG (a file corrupt further in fails while training, or with
        ``skip_bad_images`` is skipped there).

        Raises:
            BnnoError: an image cannot be read (naming it), or every image of a class
                is unreadable.
        """
        paths = [f for split in self.files.values() for f, _ in split]
        bad = set(_undecodable(paths) if self.cached else _not_images(paths))
        if not bad:
            return
        if not self.skip_errors:
            _refuse(sorted(bad))
        self.skipped = len(bad)
        for split, files in self.files.items():
            kept = [(f, label) for f, label in files if f not in bad]
            empty = set(label for _, label in files) - set(label for _, label in kept)
            if empty:
                c = self.classes[min(empty)]
                raise BnnoError(f"class folder {self.root / split / c} has no readable "
                                "images; add some or remove the folder")
            self.files[split] = kept


def _refuse(bad: list[str]) -> None:
    more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
    raise BnnoError(f"cannot read image {bad[0]}{more}: not a valid JPEG or PNG; fix or "
                    "remove it, or pass --skip-bad-images to leave such files out")


def _undecodable(paths: list[str]) -> list[str]:
    """The files among ``paths`` that TensorFlow cannot decode (decoded in parallel)."""
    import tensorflow as tf

    def probe(i, path):
        # The shape is returned so that the decoding is not pruned away.
        image = tf.io.decode_image(tf.io.read_file(path), expand_animations=False)
        return i, tf.shape(image)

    ds = tf.data.Dataset.from_tensor_slices(paths).enumerate()
    ok = ds.map(probe, num_parallel_calls=tf.data.AUTOTUNE).ignore_errors().batch(4096)
    good = {int(i) for batch, _ in ok.as_numpy_iterator() for i in batch}
    return [p for i, p in enumerate(paths) if i not in good]


def _not_images(paths: list[str]) -> list[str]:
    """The files among ``paths`` that cannot be opened or do not begin as JPEG or PNG."""
    bad = []
    for path in paths:
        try:
            with open(path, "rb") as f:
                head = f.read(8)
        except OSError:
            bad.append(path)
            continue
        if not head.startswith(_MAGIC):
            bad.append(path)
    return bad
