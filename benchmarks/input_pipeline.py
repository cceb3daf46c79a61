"""Is the input pipeline ever the bottleneck? Images/s of the pipelines vs training steps.

Prints the images per second that bnno's training pipelines deliver, next to the images
per second a training step of birealnet (224×224, set ``bop``) and binarynet (32×32,
set ``bop``) consumes on this machine, and the ratio pipeline / step (> 1: the pipeline
keeps up).

- ImageNet: the real ``imagenet2012`` pipeline (JPEG bytes, Larq Zoo's decode-and-crop,
  flip, normalisation, batching) on mock JPEGs of ImageNet's typical size (500×375), held
  in memory, so the number is decoding and augmentation, not disk.
- CIFAR-10: the real ``cifar10`` pipeline with ``resize_and_flip`` on the real data if a
  tfds data dir holds it (``--data-dir``, ``$BNNO_DATA_DIR``, ``$TFDS_DATA_DIR``), else on
  mock images of the same shape.

    python benchmarks/input_pipeline.py [--data-dir DIR] [--steps 10] [--json out.json]
"""

from __future__ import annotations

import bnno  # noqa: F401  (first: sets TF_USE_LEGACY_KERAS before TensorFlow loads)

# isort: split

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds
from common import compiled, plan_run

from bnno import data

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import write_mock_metadata  # noqa: E402


def mock_jpegs(count: int, height: int = 375, width: int = 500, seed: int = 0):
    """``count`` JPEGs of smooth random pictures with noise, encoded like photos."""
    rng = np.random.RandomState(seed)
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    out = []
    for _ in range(count):
        base = np.stack([np.sin(rng.uniform(2, 12) * (xx + rng.rand()) + rng.rand() * yy * 9)
                         for _ in range(3)], -1)
        pixels = np.clip(127 + 100 * base + rng.normal(0, 12, base.shape), 0, 255)
        out.append(tf.io.encode_jpeg(pixels.astype("uint8"), quality=90).numpy())
    return out


def images_per_second(dataset, batches: int, warmup: int) -> float:
    it = iter(dataset)
    for _ in range(warmup):
        next(it)
    start = time.perf_counter()
    n = 0
    for _ in range(batches):
        x, _ = next(it)
        n += int(x.shape[0])
    return n / (time.perf_counter() - start)


def imagenet_pipeline(args) -> float:
    jpegs = mock_jpegs(args.jpegs)
    labels = np.arange(len(jpegs)) % 1000

    def as_dataset(self, split, decoders=None, read_config=None, **kwargs):
        return tf.data.Dataset.from_tensor_slices({"image": jpegs, "label": labels})

    with tempfile.TemporaryDirectory() as root:
        write_mock_metadata(root, "imagenet2012", len(jpegs), ("train", "validation"))
        with tfds.testing.mock_data(num_examples=len(jpegs), data_dir=root,
                                    as_dataset_fn=as_dataset):
            ds = data.load("imagenet2012", root)
            steps = len(jpegs) // args.imagenet_batch
            pipe = ds.train(args.imagenet_batch, "default", 1, 0, 1000, steps)
            return images_per_second(pipe, args.pipeline_batches, 2)


def cifar10_pipeline(args) -> tuple[float, str]:
    def measure(data_dir):
        ds = data.load("cifar10", data_dir)
        pipe = ds.train(100, "resize_and_flip", 1, 0, 1000)
        steps = ds.train_examples // 100
        # The first epoch fills the in-memory cache; measure after it.
        return images_per_second(pipe, args.pipeline_batches * 10, steps + 5)

    if args.data_dir and (Path(args.data_dir) / "cifar10").is_dir():
        return measure(args.data_dir), "real CIFAR-10"
    with tempfile.TemporaryDirectory() as root:
        write_mock_metadata(root, "cifar10", 5000)
        with tfds.testing.mock_data(num_examples=5000, data_dir=root):
            return measure(root), "mock 32×32 images"


def step_rate(model: str, shape: tuple, batch: int, steps: int) -> float:
    """Images/s of training steps on one in-memory batch (no input cost)."""
    config = plan_run(model, "imagenet2012" if shape[0] > 32 else "cifar10", "bop",
                      f"batch_size={batch}")
    net = compiled(config, shape, 1000 if shape[0] > 32 else 10, steps_per_epoch=steps + 2)
    x = tf.random.uniform((batch, *shape), -1, 1)
    y = tf.one_hot(tf.zeros(batch, tf.int32), net.output_shape[-1])
    batches = tf.data.Dataset.from_tensors((x, y)).repeat()
    net.fit(batches, steps_per_epoch=2, epochs=1, verbose=0)  # trace
    start = time.perf_counter()
    net.fit(batches, steps_per_epoch=steps, epochs=1, verbose=0)
    return batch * steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("BNNO_DATA_DIR")
                        or os.environ.get("TFDS_DATA_DIR"))
    parser.add_argument("--steps", type=int, default=10, help="timed training steps")
    parser.add_argument("--jpegs", type=int, default=512, help="mock ImageNet JPEGs")
    parser.add_argument("--imagenet-batch", type=int, default=64)
    parser.add_argument("--pipeline-batches", type=int, default=20)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()

    imagenet = imagenet_pipeline(args)
    cifar, cifar_source = cifar10_pipeline(args)
    bireal = step_rate("birealnet", (224, 224, 3), 32, args.steps)
    binary = step_rate("binarynet", (32, 32, 3), 100, args.steps)
    rows = [
        ("imagenet2012 pipeline (mock 500×375 JPEGs)", imagenet, "birealnet bop step, 224×224",
         bireal),
        (f"cifar10 pipeline ({cifar_source})", cifar, "binarynet bop step, 32×32", binary),
    ]
    print(f"{'pipeline':<48}{'images/s':>10}   {'training step':<30}{'images/s':>10}"
          f"{'ratio':>8}")
    for name, rate, step, step_ips in rows:
        print(f"{name:<48}{rate:>10.0f}   {step:<30}{step_ips:>10.1f}{rate / step_ips:>8.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"imagenet_pipeline": imagenet, "cifar10_pipeline": cifar,
             "cifar10_source": cifar_source, "birealnet_step": bireal,
             "binarynet_step": binary, "cpus": os.cpu_count()}, indent=2))


if __name__ == "__main__":
    main()
