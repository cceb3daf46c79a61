"""Images/s of bnno's ImageNet training preprocessing against the official loaders'.

The same JPEGs (``--images`` of 500×375, ImageNet's typical size, generated
deterministically) go through the training transforms to 224×224:

- bnno's ``bnext``, ``sibnn`` and ``default`` (tf.data, one map over the encoded bytes
  with each image's seed, a private thread pool of n threads, intra-op parallelism 1);
- the official ones in one Python process per core (PIL decoding, as their data
  loaders run): timm 0.6.11's ``create_transform(224, is_training=True,
  auto_augment="rand-m7-mstd0.5-inc1", interpolation="bicubic")`` for ``bnext`` (BNext's
  loader), torchvision's ``Resize(256)``, ``RandomCrop(224)``, flip, ``ToTensor``,
  ``Normalize`` for ``sibnn`` (Si-BNN's, with the resize its folders assume), and
  torchvision's ``RandomResizedCrop(224)``, flip, ``ToTensor``, ``Normalize`` for
  ``default`` (Larq Zoo's crop, as torchvision's ImageNet recipe draws it).

On 1 core, 2 cores and all cores (n processes for the official side), each figure the
best of ``--rounds`` rounds that alternate between the two sides, so that both see the
same load. "per CPU-s" counts images per second of CPU time of the whole process (all
its threads), which a busy machine disturbs least. The official side needs PyTorch,
torchvision and timm: in this interpreter, or in another one given by
``--official-python`` (it runs this script with ``--official DIR``); without either
its columns are skipped with a line saying so.

    python benchmarks/preprocess_speed.py [--official-python PATH] [--images 300]
                                          [--rounds 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NAMES = ("bnext", "sibnn", "default")
SIZE = 224
BATCH = 50


def write_jpegs(folder: Path, count: int, seed: int = 0) -> None:
    """``count`` JPEGs of 500×375 smooth random pictures with noise, encoded like photos."""
    import numpy as np

    tf = _tensorflow()
    rng = np.random.RandomState(seed)
    yy, xx = np.mgrid[0:375, 0:500] / 500
    for i in range(count):
        base = np.stack([np.sin(rng.uniform(2, 12) * (xx + rng.rand()) + rng.rand() * yy * 9)
                         for _ in range(3)], -1)
        pixels = np.clip(127 + 100 * base + rng.normal(0, 12, base.shape), 0, 255)
        jpeg = tf.io.encode_jpeg(pixels.astype("uint8"), quality=90).numpy()
        (folder / f"{i:04d}.jpg").write_bytes(jpeg)


def read_jpegs(folder: Path) -> list[bytes]:
    return [p.read_bytes() for p in sorted(folder.glob("*.jpg"))]


# bnno's side --------------------------------------------------------------------------

def _tensorflow():
    """TensorFlow, imported after bnno (which sets TF_USE_LEGACY_KERAS first); the
    official side's interpreter needs neither."""
    import bnno  # noqa: F401

    # isort: split

    import tensorflow as tf

    return tf


def bnno_rates(jpegs: list[bytes], cores: list[int]) -> dict:
    """{name: {cores: (images/s, images per CPU-second)}} of one round."""
    from bnno.data import registry

    tf = _tensorflow()

    out = {}
    for name in NAMES:
        entry = registry.get(name, encoded=True)
        out[name] = {n: _measure(lambda n=n, e=entry: _pipeline(tf, e, jpegs, n), len(jpegs))
                     for n in cores}
    return out


def _pipeline(tf, entry, jpegs, threads: int):
    """The training pipeline's preprocessing of ``jpegs`` by the registry ``entry``: per
    image, then (for functions registered with ``stages``) per batch of ``BATCH``, as
    ``bnno.data.pipeline`` runs it."""
    fn, stages = entry.fn, entry.stages
    parallel = threads if threads > 1 else None
    ds = tf.data.Dataset.from_tensor_slices(jpegs).enumerate()
    if stages is None:
        ds = ds.map(lambda i, b: fn(b, True, _seed(tf, i), size=SIZE), parallel)
    else:
        ds = ds.map(lambda i, b: stages.per_image(b, True, _seed(tf, i), size=SIZE), parallel)
        ds = ds.batch(BATCH).map(stages.per_batch, parallel)
    options = tf.data.Options()
    options.threading.private_threadpool_size = threads
    options.threading.max_intra_op_parallelism = 1
    return ds.with_options(options)


def _seed(tf, i):
    return tf.stack([tf.constant(1, tf.int64), i])


def _measure(make, count: int) -> tuple[float, float]:
    ds = make()
    for _ in ds:  # a first pass traces, and compiles what XLA compiles
        pass
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in ds:
        pass
    return count / (time.perf_counter() - wall), count / (time.process_time() - cpu)


# The official side (PIL, torchvision, timm) ------------------------------------------

def _import_timm_data():
    """timm 0.6.11's data package without its model zoo: the zoo's import fails on
    Python ≥ 3.11 (a dataclass default that newer Pythons refuse) and is not needed."""
    import types

    if "timm" not in sys.modules:
        package = types.ModuleType("timm")
        package.__path__ = list(importlib.util.find_spec("timm").submodule_search_locations)
        sys.modules["timm"] = package
    import timm.data

    return timm.data


def official_transforms() -> dict:
    import torchvision.transforms as T

    timm_data = _import_timm_data()
    normalize = T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    return {
        "bnext": timm_data.create_transform(SIZE, is_training=True,
                                            auto_augment="rand-m7-mstd0.5-inc1",
                                            interpolation="bicubic"),
        "sibnn": T.Compose([T.Resize(256), T.RandomCrop(SIZE), T.RandomHorizontalFlip(),
                            T.ToTensor(), normalize]),
        "default": T.Compose([T.RandomResizedCrop(SIZE), T.RandomHorizontalFlip(),
                              T.ToTensor(), normalize]),
    }


def _run_official(args) -> tuple[float, float]:
    """Transform every JPEG of a shard in this process: (seconds, CPU seconds)."""
    name, jpegs = args
    import torch
    from PIL import Image

    torch.set_num_threads(1)
    transform = official_transforms()[name]
    wall, cpu = time.perf_counter(), time.process_time()
    for data in jpegs:
        transform(Image.open(io.BytesIO(data)).convert("RGB"))
    return time.perf_counter() - wall, time.process_time() - cpu


def official_rates(jpegs: list[bytes], cores: list[int]) -> dict:
    """As ``bnno_rates``, for the official transforms (n processes for n cores)."""
    import multiprocessing

    out = {}
    for name in NAMES:
        out[name] = {}
        for n in cores:
            if n == 1:
                _run_official((name, jpegs[:8]))  # imports and first calls
                wall, cpu = _run_official((name, jpegs))
                out[name][n] = (len(jpegs) / wall, len(jpegs) / cpu)
                continue
            shards = [(name, jpegs[i::n]) for i in range(n)]
            with multiprocessing.get_context("spawn").Pool(n) as pool:
                pool.map(_run_official, [(name, s[1][:4]) for s in shards])
                start = time.perf_counter()
                times = pool.map(_run_official, shards)
                wall = time.perf_counter() - start
            out[name][n] = (len(jpegs) / wall, len(jpegs) / sum(cpu for _, cpu in times))
    return out


def official_available() -> str | None:
    """None if torch, torchvision and timm import here, else why not."""
    for module in ("torch", "torchvision", "timm", "PIL"):
        if module not in sys.modules and importlib.util.find_spec(module) is None:
            return f"{module} is not installed"
    return None


def official_round(folder: Path, cores: list[int], python: str | None) -> dict | None:
    if official_available() is None:
        return official_rates(read_jpegs(folder), cores)
    if not python:
        return None
    result = subprocess.run([python, __file__, "--official", str(folder),
                             "--cores", ",".join(map(str, cores))],
                            capture_output=True, text=True, check=True)
    return {name: {int(n): tuple(v) for n, v in rates.items()}
            for name, rates in json.loads(result.stdout.splitlines()[-1]).items()}


# The table -----------------------------------------------------------------------------

def best(rounds: list[dict]) -> dict:
    """Per name and core count, the best images/s and the best images per CPU-second."""
    return {name: {n: tuple(max(r[name][n][k] for r in rounds) for k in (0, 1))
                   for n in rounds[0][name]} for name in rounds[0]}


def table(ours: dict, theirs: dict | None) -> str:
    head = (f"{'preprocessing':<14}{'cores':>6}{'bnno img/s':>12}{'official':>10}{'ratio':>7}"
            f"{'bnno per CPU-s':>16}{'official':>10}{'ratio':>7}")
    lines = [head]
    for name in NAMES:
        for n, (ips, cps) in ours[name].items():
            row = f"{name:<14}{n:>6}{ips:>12.0f}"
            if theirs:
                o_ips, o_cps = theirs[name][n]
                row += (f"{o_ips:>10.0f}{ips / o_ips:>7.2f}"
                        f"{cps:>16.0f}{o_cps:>10.0f}{cps / o_cps:>7.2f}")
            else:
                row += f"{'':>17}{cps:>16.0f}"
            lines.append(row)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cores", help="core counts, e.g. 1,2 (default: 1, 2 and all)")
    parser.add_argument("--official-python",
                        help="a Python with torch, torchvision and timm 0.6.11 to run the "
                             "official transforms in (default: this one, if it has them)")
    parser.add_argument("--official", help=argparse.SUPPRESS)  # the child's JPEG folder
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    cpus = os.cpu_count() or 1
    cores = ([int(c) for c in args.cores.split(",")] if args.cores
             else sorted({1, min(2, cpus), cpus}))
    if args.official:
        rates = official_rates(read_jpegs(Path(args.official)), cores)
        print(json.dumps(rates))
        return

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_jpegs(folder, args.images)
        jpegs = read_jpegs(folder)
        ours, theirs = [], []
        for _ in range(args.rounds):
            ours.append(bnno_rates(jpegs, cores))
            official = official_round(folder, cores, args.official_python)
            if official is not None:
                theirs.append(official)
    print(f"{args.images} JPEGs of 500×375 to {SIZE}×{SIZE}, training transforms; "
          f"{cpus} CPUs, load average {os.getloadavg()[0]:.1f}; best of {args.rounds} rounds")
    if not theirs:
        print(f"official transforms skipped: {official_available()} here, and no "
              "--official-python given")
    print(table(best(ours), best(theirs) if theirs else None))
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"images": args.images, "cpus": cpus, "bnno": best(ours),
             "official": best(theirs) if theirs else None}, indent=2))


if __name__ == "__main__":
    main()
