"""Images/s of an image-folder pipeline next to the tfds pipeline, on the same images.

Writes the first N images of a tfds dataset's test split (CIFAR-10 by default, or MNIST)
to a temporary folder as PNG files (``train/<class>/`` holds all N, ``val/<class>/`` a
few), then times bnno's training pipeline (``resize_and_flip``, batches of 100) on both
in this process:

- first epoch: reading and decoding every image (tfds: its TFRecords; folder: the PNG
  files, decoded in parallel) while the in-memory cache fills;
- later epochs: from the cache (shuffle, augmentation, batching);
- the folder without cache: decoding every PNG in every epoch, as a folder too big to
  cache is read.

The folder's one-time check (every image decoded once before training) is timed apart.
The ratio is folder / tfds images/s.

    python benchmarks/folder_pipeline.py --data-dir DIR [--dataset cifar10] [--images 10000]
                                         [--epochs 3] [--json out.json]

The data dir defaults to $BNNO_DATA_DIR, then $TFDS_DATA_DIR.
"""

from __future__ import annotations

import bnno  # noqa: F401  (first: sets TF_USE_LEGACY_KERAS before TensorFlow loads)

# isort: split

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import tensorflow as tf

from bnno import data
from bnno.data import folders

BATCH = 100


def write_folder(ds, count: int, root: Path) -> None:
    """The first ``count`` test images of tfds dataset ``ds`` as PNGs under ``root``."""
    names = ds.builder.info.features["label"].names
    examples = ds.builder.as_dataset(split=f"test[:{count}]", shuffle_files=False)
    for i, ex in enumerate(examples):
        label = names[int(ex["label"])]
        for split in ("train",) + (("val",) if i < 10 * len(names) else ()):
            folder = root / split / label
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{i:05d}.png").write_bytes(tf.io.encode_png(ex["image"]).numpy())
    # A class without test images among the first N would leave val/ incomplete.
    for label in names:
        for split in ("train", "val"):
            if not (root / split / label).is_dir():
                raise SystemExit(f"no '{label}' image among the first {count}; use more")


def epoch_rates(ds, epochs: int) -> list[float]:
    """Images/s of each of ``epochs`` full training epochs of ``ds``."""
    steps = ds.train_examples // BATCH
    it = iter(ds.train(BATCH, "resize_and_flip", 1, 0, epochs, steps))
    rates = []
    for _ in range(epochs):
        start = time.perf_counter()
        for _ in range(steps):
            next(it)
        rates.append(steps * BATCH / (time.perf_counter() - start))
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("BNNO_DATA_DIR")
                        or os.environ.get("TFDS_DATA_DIR"))
    parser.add_argument("--dataset", default="cifar10", choices=("cifar10", "mnist"))
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=3, help="at least 2")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()

    tfds_ds = data.load(args.dataset, args.data_dir)
    # The tfds pipeline reads the same N images: the slice of the test split.
    tfds_ds.train_split = f"test[:{args.images}]"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_folder(tfds_ds, args.images, root)
        start = time.perf_counter()
        folder_ds = data.load(str(root))
        check = args.images / (time.perf_counter() - start)
        assert folder_ds.train_examples == tfds_ds.train_examples == args.images
        tfds_rates = epoch_rates(tfds_ds, args.epochs)
        folder_rates = epoch_rates(folder_ds, args.epochs)
        folders.CACHE_BYTES, cache_bytes = 0, folders.CACHE_BYTES
        try:
            uncached = data.load(str(root))
            assert not uncached.cached
            uncached_rates = epoch_rates(uncached, args.epochs)
        finally:
            folders.CACHE_BYTES = cache_bytes

    def later(rates):
        return sum(rates[1:]) / len(rates[1:])

    rows = [
        ("first epoch (read, decode, cache)", tfds_rates[0], folder_rates[0]),
        ("later epochs (from the cache)", later(tfds_rates), later(folder_rates)),
        ("folder, no cache (decode every epoch)", later(tfds_rates), later(uncached_rates)),
    ]
    print(f"{args.images} {args.dataset} test images, batches of {BATCH}, resize_and_flip, "
          f"{os.cpu_count()} CPUs; folder check (decode all once): {check:.0f} images/s")
    print(f"{'':<40}{'tfds img/s':>12}{'folder img/s':>14}{'folder/tfds':>13}")
    for name, a, b in rows:
        print(f"{name:<40}{a:>12.0f}{b:>14.0f}{b / a:>13.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "dataset": args.dataset, "images": args.images, "cpus": os.cpu_count(),
            "folder_check": check,
            "tfds_epochs": tfds_rates, "folder_epochs": folder_rates,
            "folder_uncached_epochs": uncached_rates,
            "ratio_first_epoch": folder_rates[0] / tfds_rates[0],
            "ratio_later_epochs": later(folder_rates) / later(tfds_rates),
            "ratio_uncached": later(uncached_rates) / later(tfds_rates),
        }, indent=2))


if __name__ == "__main__":
    main()
