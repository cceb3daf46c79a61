"""Generate ``tests/fixtures/larq_zoo.npz`` from larq-zoo's own functions.

Not run by the test suite: bnno does not depend on larq-zoo (its ``protobuf<3.21`` pin
would hold TensorFlow to the pure-Python protobuf), so run this in a separate
environment with ``pip install larq-zoo==2.4.0 tensorflow==2.19.1 tf-keras==2.19.0``
(the fixture was made with exactly those, on x86-64). It writes, for the tests of
``bnno.data.preprocessing.imagenet`` and ``bnno.quantizers.xnor_weight``:

- ``jpeg_<i>``: three JPEGs (uint8 bytes) of smooth random images, 400×300, 193×257 and
  500×375.
- ``eval_<i>_<size>``: ``larq_zoo.training.data.preprocess_image_bytes(jpeg,
  is_training=False, image_size=size)``, at 48 for every JPEG and at 224 for the first.
- ``box_kwargs``: the keyword arguments (JSON) with which larq-zoo's training crop calls
  ``tf.image.sample_distorted_bounding_box``: the distribution of its crop windows.
- ``windows_<i>``: crop windows (y, x, height, width) for the JPEG, among them smaller
  ones, the whole image (what the op returns when its 10 attempts fail: larq-zoo then
  takes its central crop) and windows of the full height or width (not a failure).
- ``train_<i>_<w>_<seed>``: ``preprocess_image_bytes(jpeg, is_training=True,
  image_size=32)`` with that op returning window ``w``, run eagerly right after
  ``tf.random.set_seed(seed)``. The op's own draws cannot be recorded: larq-zoo leaves
  its seed at 0, which TensorFlow seeds afresh in every process, whatever the global
  seed. The flip, a stateful ``random_uniform``, is fixed by the global seed in eager
  mode; the seeds (0, 1, 4, 5) take both of its branches (the script checks).
- ``xnor_w``, ``xnor_g``, ``xnor_y``, ``xnor_grad``: kernels in [-1.4, 1.4], an output
  gradient, and ``larq_zoo.literature.xnornet.xnor_weight_scale``'s output and input
  gradient for them.
- ``versions``: the TensorFlow and larq-zoo versions used.

Usage::

    python benchmarks/larq_zoo_fixtures.py --output tests/fixtures
"""

from __future__ import annotations

import argparse
import json
import os
from importlib.metadata import version
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

SHAPES = [(300, 400), (257, 193), (375, 500)]
WINDOWS = [[(10, 20, 150, 200), (0, 0, 300, 400), (0, 50, 300, 200)],
           [(30, 7, 101, 130), (0, 0, 257, 193)],
           [(100, 0, 200, 500), (5, 60, 370, 300)]]
TRAIN_SEEDS = (0, 1, 4, 5)


def smooth_image(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Coarse random colours upsampled bilinearly, plus a little noise: like a photo, a
    JPEG of it is not flat and a crop of it is not constant."""
    coarse = rng.uniform(0, 255, (1, 6, 6, 3)).astype(np.float32)
    image = tf.image.resize(coarse, shape).numpy()[0]
    image += rng.normal(0, 8, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def xnor_arrays(xnor_weight_scale) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    w = rng.uniform(-1.4, 1.4, (3, 3, 4, 5)).astype(np.float32)
    w[np.abs(np.abs(w) - 1) < 1e-3] = 0.5  # away from the clip's edges
    g = rng.normal(size=w.shape).astype(np.float32)
    x = tf.constant(w)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = xnor_weight_scale(x)
    grad = tape.gradient(y, x, output_gradients=tf.constant(g))
    return {"xnor_w": w, "xnor_g": g, "xnor_y": y.numpy(), "xnor_grad": grad.numpy()}


class FixedWindow:
    """``tf.image.sample_distorted_bounding_box`` returning a given window; keeps the
    keyword arguments of its last call."""

    def __init__(self):
        self.window, self.kwargs = None, None

    def __call__(self, image_size, **kwargs):
        self.kwargs = kwargs
        y, x, h, w = self.window
        return tf.constant([y, x, 0]), tf.constant([h, w, -1]), tf.zeros([1, 1, 4])


def training_arrays(preprocess_image_bytes, i: int, jpeg) -> dict[str, np.ndarray]:
    box, real = FixedWindow(), tf.image.sample_distorted_bounding_box
    tf.image.sample_distorted_bounding_box = box
    arrays, flips = {f"windows_{i}": np.array(WINDOWS[i], np.int32)}, set()
    try:
        for w, box.window in enumerate(WINDOWS[i]):
            for seed in TRAIN_SEEDS:
                tf.random.set_seed(seed)
                image = preprocess_image_bytes(jpeg, is_training=True, image_size=32)
                arrays[f"train_{i}_{w}_{seed}"] = image.numpy()
                tf.random.set_seed(seed)
                flips.add(float(tf.random.uniform([])) < 0.5)  # the flip's draw
    finally:
        tf.image.sample_distorted_bounding_box = real
    if len(flips) < 2:
        raise SystemExit("the seeds take one branch of the flip: change TRAIN_SEEDS")
    kwargs = {k: np.asarray(v).tolist() for k, v in box.kwargs.items()}
    arrays["box_kwargs"] = np.array(json.dumps(kwargs, sort_keys=True))
    return arrays


def main() -> None:
    from larq_zoo.literature.xnornet import xnor_weight_scale
    from larq_zoo.training.data import preprocess_image_bytes

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    arrays = {"versions": np.array([f"tensorflow {tf.__version__}",
                                    f"larq-zoo {version('larq-zoo')}"])}
    for i, shape in enumerate(SHAPES):
        jpeg = tf.io.encode_jpeg(smooth_image(rng, shape), quality=90)
        arrays[f"jpeg_{i}"] = np.frombuffer(jpeg.numpy(), np.uint8)
        for size in (48, 224) if i == 0 else (48,):
            arrays[f"eval_{i}_{size}"] = preprocess_image_bytes(
                jpeg, is_training=False, image_size=size).numpy()
        arrays.update(training_arrays(preprocess_image_bytes, i, jpeg))
    arrays.update(xnor_arrays(xnor_weight_scale))
    args.output.mkdir(parents=True, exist_ok=True)
    path = args.output / "larq_zoo.npz"
    np.savez_compressed(path, **arrays)
    print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
